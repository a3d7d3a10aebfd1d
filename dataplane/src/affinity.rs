//! Keeping the process's own threads off the DPDK worker cores.
//!
//! The logger and signal threads start before the EAL, so they inherit the
//! process's whole CPU set, and the scheduler is free to run them on a core
//! that a poll-mode worker owns. The EAL pins the main thread to the main
//! lcore's core(s) when it initialises; [`confine_to_current`] then gives
//! the threads that existed before it (listed by [`thread_ids`]) the same
//! set, so that only workers run on worker cores. Threads started later
//! from the main thread (writers, the control plane) inherit that set.
//!
//! Linux only (`/proc/self/task`, `sched_{get,set}affinity`).
#![allow(unsafe_code)]

use std::io;

/// The ids of the process's threads now.
pub fn thread_ids() -> io::Result<Vec<libc::pid_t>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        if let Some(id) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<libc::pid_t>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Gives each thread of `tids` the calling thread's CPU set, and returns
/// how many were changed. A thread that has ended meanwhile is skipped.
pub fn confine_to_current(tids: &[libc::pid_t]) -> io::Result<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes; pid 0 is the
    // calling thread.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut changed = 0;
    for &tid in tids {
        // SAFETY: as above; the kernel only reads `set`.
        if unsafe { libc::sched_setaffinity(tid, size, &set) } == 0 {
            changed += 1;
        } else {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(e);
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs a thread may run on (`/proc/self/task/TID/status`,
    /// `Cpus_allowed_list`), e.g. `"0"` or `"0-1"`.
    fn allowed_cpus(tid: libc::pid_t) -> io::Result<String> {
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| io::Error::other("no Cpus_allowed_list"))
    }

    #[test]
    fn a_thread_takes_the_callers_cpu_set() {
        let before = allowed_cpus(thread_ids().unwrap()[0]).unwrap();
        // A helper thread that reports its id and then waits.
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            tx.send(tid).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        assert!(thread_ids().unwrap().contains(&tid));
        // Narrow this thread to its first allowed CPU, copy that set to the
        // helper, and read it back.
        let first: usize = before
            .split([',', '-'])
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: zeroed cpu_set_t is valid; CPU_SET writes in bounds.
                unsafe {
                    let mut one: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(first, &mut one);
                    assert_eq!(
                        libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one),
                        0
                    );
                }
                assert_eq!(confine_to_current(&[tid, 999_999_999]).unwrap(), 1);
            });
        });
        assert_eq!(allowed_cpus(tid).unwrap(), first.to_string());
        done_tx.send(()).unwrap();
        helper.join().unwrap();
    }
}
