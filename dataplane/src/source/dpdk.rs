//! A safe wrapper over the part of DPDK a capture worker needs: EAL start-up,
//! a packet mempool, receive-only ports, per-queue burst receive into a
//! caller-owned [`MbufBurst`], port statistics, and workers on EAL lcores.
//!
//! What it promises:
//! - [`Eal::init`] runs `rte_eal_init` at most once per process; a second
//!   call returns [`DpdkError::AlreadyInitialized`] (DPDK cannot start twice,
//!   not even after `rte_eal_cleanup`). Dropping the [`Eal`] runs
//!   `rte_eal_cleanup`.
//! - Lifetimes order the teardown: a [`Mempool`] borrows the [`Eal`], a
//!   [`Port`] borrows the [`Mempool`] its queues take mbufs from, an
//!   [`RxQueue`] borrows its [`Port`], and an [`MbufBurst`] carries the
//!   lifetime of its queue. So no mbuf outlives its pool, no port outlives
//!   its pool, and nothing runs after cleanup.
//! - One [`Port`] per port id and one [`RxQueue`] per queue exist at a time
//!   (DPDK's receive path is not thread-safe per queue).
//! - Workers run on EAL worker lcores through [`Eal::scope`], which waits for
//!   every worker it launched before it returns, so workers may borrow from
//!   the caller. The main lcore never runs a worker.
//! - [`MbufBurst`] shows the first segment of each mbuf. Multi-segment
//!   packets (not produced with the default 2 KB data room and a 1518-byte
//!   MTU) keep their full length in [`PacketMeta::orig_len`], and are counted
//!   in [`MbufBurst::multi_segment`].
//! - Packets carry the burst's arrival time, from the TSC anchored on the
//!   system clock (see `TscClock`), not a device timestamp.
//! - Dropping a [`Port`] stops and closes the device. Closing a virtual
//!   device releases its port id, so a port is configured once per process.
//! - With `net_pcap,infinite_rx=1` the driver keeps the whole capture in
//!   mbufs of the queue's pool: the pool needs more mbufs than the file has
//!   packets, or `rte_eth_rx_queue_setup` fails with EINVAL.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrocap_dpdk_sys as sys;

/// The libdpdk version ferrocap was built against (pkg-config), e.g. for
/// the `dpdk` label of `ferrocap_build_info`.
pub const DPDK_VERSION: &str = sys::DPDK_VERSION;

use super::{Burst, Packet, PacketMeta, PacketSource, SourceError, BURST_MAX};

/// Set by the first [`Eal::init`]; never cleared (DPDK cannot start twice).
static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// Linux's ENOTSUP (= EOPNOTSUPP), which drivers return for what they lack.
const ENOTSUP: c_int = 95;
const MAX_PORTS: usize = sys::RTE_MAX_ETHPORTS as usize;
const MAX_LCORES: usize = sys::RTE_MAX_LCORE as usize;

/// Which port ids have a live [`Port`].
static PORT_TAKEN: [AtomicBool; MAX_PORTS] = [const { AtomicBool::new(false) }; MAX_PORTS];

/// Set by the launch trampoline when a worker's closure panicked.
static WORKER_PANICKED: [AtomicBool; MAX_LCORES] = [const { AtomicBool::new(false) }; MAX_LCORES];

/// Errors of the DPDK boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpdkError {
    /// `rte_eal_init` already ran (or was attempted) in this process.
    #[error("the DPDK EAL can be initialised once per process and already was")]
    AlreadyInitialized,
    /// A name or EAL argument holds a NUL byte.
    #[error("{0:?} contains a NUL byte")]
    NulByte(String),
    /// A DPDK call failed.
    #[error("{call} failed: {message} (errno {errno})")]
    Rte {
        /// The DPDK function that failed.
        call: &'static str,
        /// The positive errno value DPDK returned or left in `rte_errno`.
        errno: i32,
        /// `rte_strerror(errno)`.
        message: String,
    },
    /// No ethdev port has this name.
    #[error("no DPDK port named {0:?}")]
    NoSuchPort(String),
    /// The port id is not a valid ethdev port.
    #[error("DPDK port {0} does not exist")]
    InvalidPort(u16),
    /// Another [`Port`] for this id is alive.
    #[error("DPDK port {0} is already configured by this process")]
    PortBusy(u16),
    /// The requested configuration does not fit the device.
    #[error("DPDK port {port}: {reason}")]
    Unsupported {
        /// The port.
        port: u16,
        /// What does not fit.
        reason: String,
    },
    /// The queue does not exist on the port, or has a live [`RxQueue`].
    #[error("DPDK port {port} receive queue {queue} does not exist or is in use")]
    QueueBusy {
        /// The port.
        port: u16,
        /// The queue.
        queue: u16,
    },
    /// The lcore is not an enabled, idle worker lcore.
    #[error("lcore {0} is not an idle EAL worker lcore")]
    BadLcore(u32),
    /// A worker's closure panicked.
    #[error("the worker on lcore {0} panicked")]
    WorkerPanicked(u32),
}

impl DpdkError {
    /// The error for a failed `call` that reported `errno` (either sign).
    fn rte(call: &'static str, errno: i32) -> Self {
        let errno = errno.saturating_abs();
        // SAFETY: rte_strerror accepts any value and returns a pointer to a
        // NUL-terminated string (static, or in a per-thread buffer that stays
        // valid until the next call on this thread; we copy it at once).
        let message = unsafe { CStr::from_ptr(sys::rte_strerror(errno)) }
            .to_string_lossy()
            .into_owned();
        DpdkError::Rte {
            call,
            errno,
            message,
        }
    }

    /// The error for a failed `call` that set `rte_errno`.
    fn rte_errno(call: &'static str) -> Self {
        // SAFETY: reads this thread's rte_errno; no precondition.
        let errno = unsafe { sys::ferrocap_errno() };
        Self::rte(call, errno)
    }
}

/// Turns DPDK's "0 or a negative errno" into a `Result`.
fn check(call: &'static str, rc: c_int) -> Result<(), DpdkError> {
    if rc < 0 {
        Err(DpdkError::rte(call, rc))
    } else {
        Ok(())
    }
}

fn cstring(s: &str) -> Result<CString, DpdkError> {
    CString::new(s).map_err(|_| DpdkError::NulByte(s.to_owned()))
}

/// An EAL logical core id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LcoreId(pub u32);

impl LcoreId {
    /// The lcore the calling thread runs on, or `None` on a thread that is
    /// not an EAL lcore (where DPDK has no per-lcore mempool cache).
    pub fn current() -> Option<LcoreId> {
        // SAFETY: rte_lcore_id reads a thread-local; no precondition.
        let id = unsafe { sys::ferrocap_lcore_id() };
        (id != u32::MAX).then_some(LcoreId(id))
    }

    /// The NUMA socket of this lcore.
    pub fn socket(self) -> u32 {
        // SAFETY: any id is accepted; out-of-range ids give a default.
        unsafe { sys::rte_lcore_to_socket_id(self.0) }
    }
}

impl std::fmt::Display for LcoreId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An ethdev port the EAL found, from [`Eal::ports`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The port id.
    pub id: u16,
    /// The device name, for example `net_pcap0` or `0000:01:00.0`.
    pub name: String,
}

/// What a device can do, from [`Eal::device_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The poll-mode driver, for example `net_pcap`.
    pub driver: String,
    /// The most receive queues the device accepts.
    pub max_rx_queues: u16,
    /// The RSS hash functions the device supports (`RTE_ETH_RSS_*` bits);
    /// 0 when it has no RSS.
    pub rss_offloads: u64,
    /// The most receive descriptors per queue.
    pub max_rx_desc: u16,
}

/// The running DPDK environment abstraction layer. One per process.
///
/// It is neither `Send` nor `Sync`: the thread that created it is the main
/// lcore, and it alone launches workers and runs `rte_eal_cleanup`.
#[derive(Debug)]
pub struct Eal {
    consumed: usize,
    _main_thread_only: PhantomData<*mut ()>,
}

impl Eal {
    /// Starts DPDK with `args`, the EAL arguments without a program name
    /// (for example `["-l", "0-1", "--no-huge", "--vdev=net_null0"]`).
    ///
    /// Call it once, from the thread that should be the main lcore. A
    /// second call, even after a failed first one or after the first
    /// [`Eal`] was dropped, returns [`DpdkError::AlreadyInitialized`].
    /// The argument strings are leaked on purpose: DPDK may keep pointers
    /// into its argv for the life of the process.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, DpdkError> {
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(cstring("ferrocap")?);
        for arg in args {
            owned.push(cstring(arg.as_ref())?);
        }
        // E2BIG: more arguments than a C int counts.
        let argc = c_int::try_from(owned.len()).map_err(|_| DpdkError::rte("rte_eal_init", 7))?;
        if EAL_STARTED
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(DpdkError::AlreadyInitialized);
        }
        let argv: &'static mut [*mut c_char] = Vec::leak(
            owned
                .into_iter()
                .map(CString::into_raw)
                .chain(std::iter::once(ptr::null_mut()))
                .collect(),
        );
        // SAFETY: argv holds argc valid NUL-terminated strings followed by a
        // NULL, all leaked so they outlive the process's use of them; the
        // EAL_STARTED guard makes this the only call in the process.
        let rc = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(DpdkError::rte_errno("rte_eal_init"));
        }
        Ok(Eal {
            consumed: usize::try_from(rc).unwrap_or(0),
            _main_thread_only: PhantomData,
        })
    }

    /// How many arguments (counting the program name) the EAL parsed.
    pub fn consumed_args(&self) -> usize {
        self.consumed
    }

    /// The main lcore (the thread that called [`Eal::init`]).
    pub fn main_lcore(&self) -> LcoreId {
        // SAFETY: the EAL is initialised (self exists).
        LcoreId(unsafe { sys::rte_get_main_lcore() })
    }

    /// The number of enabled lcores, main included.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: the EAL is initialised.
        unsafe { sys::rte_lcore_count() }
    }

    /// The enabled worker lcores (every enabled lcore but the main one), in
    /// increasing order.
    pub fn worker_lcores(&self) -> impl Iterator<Item = LcoreId> + '_ {
        let mut prev = u32::MAX; // rte_get_next_lcore(-1, ..) starts at 0
        std::iter::from_fn(move || {
            // SAFETY: the EAL is initialised; any `prev` is accepted.
            let next = unsafe { sys::rte_get_next_lcore(prev, 1, 0) };
            if next as usize >= MAX_LCORES {
                return None;
            }
            prev = next;
            Some(LcoreId(next))
        })
    }

    /// The NUMA socket of the calling thread.
    pub fn socket_id(&self) -> u32 {
        // SAFETY: the EAL is initialised.
        unsafe { sys::rte_socket_id() }
    }

    /// Every ethdev port the EAL found (devices and `--vdev`s).
    pub fn ports(&self) -> impl Iterator<Item = PortInfo> + '_ {
        let mut next: u16 = 0;
        std::iter::from_fn(move || {
            // SAFETY: the EAL is initialised; any id is accepted.
            let id = unsafe { sys::rte_eth_find_next(next) };
            if usize::from(id) >= MAX_PORTS {
                return None;
            }
            next = id.saturating_add(1);
            Some(PortInfo {
                id,
                name: port_name(id).unwrap_or_default(),
            })
        })
    }

    /// The id of the port named `name` (for example `net_pcap0`).
    pub fn port_by_name(&self, name: &str) -> Result<u16, DpdkError> {
        let c_name = cstring(name)?;
        let mut id: u16 = 0;
        // SAFETY: c_name is NUL-terminated and `id` is a valid out-pointer.
        let rc = unsafe { sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) };
        if rc < 0 {
            return Err(DpdkError::NoSuchPort(name.to_owned()));
        }
        Ok(id)
    }

    /// What the device behind `port` can do.
    pub fn device_info(&self, port: u16) -> Result<DeviceInfo, DpdkError> {
        let info = dev_info(port)?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: a non-NULL driver_name points to the driver's static,
            // NUL-terminated name.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(DeviceInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            rss_offloads: info.flow_type_rss_offloads,
            max_rx_desc: info.rx_desc_lim.nb_max,
        })
    }

    /// Runs `body` with a [`LcoreScope`] on which it can launch workers on
    /// worker lcores. Returns what `body` returned and how each launched
    /// worker ended, in launch order, after every worker has returned.
    ///
    /// Workers may borrow anything that outlives the call. If `body`
    /// panics, the scope still waits for the workers before the panic goes
    /// on, so a worker that loops until told to stop must be told by
    /// something other than `body`'s normal path.
    pub fn scope<'env, R>(
        &'env self,
        body: impl for<'scope> FnOnce(&'scope LcoreScope<'scope, 'env>) -> R,
    ) -> (R, Vec<WorkerExit>) {
        let scope = LcoreScope {
            launched: RefCell::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        // Wait for the workers on every path out, unwinding included, before
        // their borrows end.
        let result = catch_unwind(AssertUnwindSafe(|| body(&scope)));
        let exits = scope.wait_all();
        match result {
            Ok(result) => (result, exits),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs `worker` once on each worker lcore and waits for all of them.
    /// The main lcore only waits.
    pub fn run_on_workers<F>(&self, worker: F) -> Result<Vec<WorkerExit>, DpdkError>
    where
        F: Fn(LcoreId) -> i32 + Sync,
    {
        let worker = &worker;
        let lcores: Vec<LcoreId> = self.worker_lcores().collect();
        let (launched, exits) = self.scope(|s| {
            for &lcore in &lcores {
                s.launch(lcore, move || worker(lcore))?;
            }
            Ok::<(), DpdkError>(())
        });
        launched.map(|()| exits)
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every Mempool, Port and RxQueue borrows the Eal, so none is
        // alive now; scopes have waited for their workers. We are on the main
        // thread because Eal is neither Send nor Sync.
        unsafe {
            sys::rte_eal_cleanup();
        }
    }
}

/// How a worker ended, from [`Eal::scope`].
#[derive(Debug)]
pub struct WorkerExit {
    /// The lcore it ran on.
    pub lcore: LcoreId,
    /// What its closure returned, or [`DpdkError::WorkerPanicked`].
    pub result: Result<i32, DpdkError>,
}

/// Launches workers on lcores; see [`Eal::scope`].
#[derive(Debug)]
pub struct LcoreScope<'scope, 'env: 'scope> {
    launched: RefCell<Vec<LcoreId>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

type Job<'a> = Box<dyn FnOnce() -> i32 + Send + 'a>;

unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Box<Job>` that `LcoreScope::launch` leaked for
    // exactly this one call; we take it back here once.
    let job: Box<Job<'static>> = unsafe { Box::from_raw(arg.cast::<Job<'static>>()) };
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(rc) => rc,
        Err(_) => {
            if let Some(lcore) = LcoreId::current() {
                if let Some(flag) = WORKER_PANICKED.get(lcore.0 as usize) {
                    flag.store(true, Ordering::Release);
                }
            }
            -1
        }
    }
}

impl<'scope, 'env> LcoreScope<'scope, 'env> {
    /// Starts `worker` on `lcore`, which must be an enabled, idle worker
    /// lcore (not the main one).
    pub fn launch<F>(&'scope self, lcore: LcoreId, worker: F) -> Result<(), DpdkError>
    where
        F: FnOnce() -> i32 + Send + 'scope,
    {
        let idx = lcore.0 as usize;
        // SAFETY: rte_lcore_is_enabled and rte_get_main_lcore accept any id
        // once the EAL runs (a scope only exists inside Eal::scope).
        let usable = idx < MAX_LCORES
            && unsafe { sys::rte_lcore_is_enabled(lcore.0) } != 0
            && unsafe { sys::rte_get_main_lcore() } != lcore.0
            && unsafe { sys::rte_eal_get_lcore_state(lcore.0) } == sys::rte_lcore_state_t_WAIT;
        if !usable {
            return Err(DpdkError::BadLcore(lcore.0));
        }
        if let Some(flag) = WORKER_PANICKED.get(idx) {
            flag.store(false, Ordering::Release);
        }
        let job: Job<'scope> = Box::new(worker);
        // SAFETY: only the lifetime is erased. Every launched lcore is
        // waited for before the scope ends (Eal::scope calls wait_all even
        // when `body` unwinds), so the job never
        // outlives 'scope.
        let job: Job<'static> = unsafe { std::mem::transmute::<Job<'scope>, Job<'static>>(job) };
        let raw = Box::into_raw(Box::new(job)).cast::<c_void>();
        // SAFETY: the trampoline has the lcore_function_t signature and takes
        // ownership of `raw`; this runs on the main lcore (LcoreScope is not
        // Sync and only Eal::scope, on the main thread, makes one).
        let rc = unsafe { sys::rte_eal_remote_launch(Some(trampoline), raw, lcore.0 as c_uint) };
        if rc < 0 {
            // SAFETY: the launch failed, so the trampoline will never run and
            // `raw` is still ours to free.
            drop(unsafe { Box::from_raw(raw.cast::<Job<'static>>()) });
            return Err(DpdkError::rte("rte_eal_remote_launch", rc));
        }
        self.launched.borrow_mut().push(lcore);
        Ok(())
    }

    fn wait_all(&self) -> Vec<WorkerExit> {
        let lcores = std::mem::take(&mut *self.launched.borrow_mut());
        lcores
            .into_iter()
            .map(|lcore| {
                // SAFETY: we launched a job on this lcore; waiting is what
                // keeps its borrows valid.
                let rc = unsafe { sys::rte_eal_wait_lcore(lcore.0) };
                let panicked = WORKER_PANICKED
                    .get(lcore.0 as usize)
                    .is_some_and(|f| f.load(Ordering::Acquire));
                let result = if panicked {
                    Err(DpdkError::WorkerPanicked(lcore.0))
                } else {
                    Ok(rc)
                };
                WorkerExit { lcore, result }
            })
            .collect()
    }
}

/// Wall-clock nanoseconds from the TSC, re-anchored on the system clock
/// once a second: reading the system clock for every burst cost about 8% of
/// a `net_null` worker's time here (KVM), the TSC costs a few cycles. The
/// time may step by the clocks' drift (microseconds) at a re-anchoring.
#[derive(Debug)]
struct TscClock {
    hz: u64,
    /// Nanoseconds per TSC tick as a 32.32 fixed-point number.
    ns_per_tick: u64,
    tsc0: u64,
    ns0: u64,
}

impl TscClock {
    fn new() -> Self {
        // SAFETY: the EAL runs (an RxQueue borrows a Port); it measured the
        // TSC frequency during rte_eal_init.
        let hz = unsafe { sys::rte_get_tsc_hz() };
        let ns_per_tick = if hz == 0 {
            0
        } else {
            u64::try_from((1_000_000_000u128 << 32) / u128::from(hz)).unwrap_or(u64::MAX)
        };
        let mut clock = Self {
            hz,
            ns_per_tick,
            tsc0: 0,
            ns0: 0,
        };
        clock.anchor();
        clock
    }

    fn anchor(&mut self) {
        self.tsc0 = rdtsc();
        self.ns0 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    #[inline]
    fn now_ns(&mut self) -> u64 {
        let ticks = rdtsc().wrapping_sub(self.tsc0);
        if self.hz == 0 || ticks > self.hz {
            self.anchor();
            return self.ns0;
        }
        let ns = (u128::from(ticks) * u128::from(self.ns_per_tick)) >> 32;
        self.ns0
            .saturating_add(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

#[inline(always)]
fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC is available on every x86_64 CPU and has no preconditions.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: rte_get_tsc_cycles reads a cycle counter; no preconditions.
    unsafe {
        sys::ferrocap_get_tsc_cycles()
    }
}

/// `rte_prefetch0` without a call through the shim (which cannot be
/// inlined into Rust): a hint to pull `p`'s cache line into every level.
#[inline(always)]
fn prefetch0(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: rte_prefetch0 is a hint; it never faults, whatever the address.
    unsafe {
        sys::ferrocap_prefetch0(p.cast::<c_void>());
    }
}

fn port_name(port: u16) -> Option<String> {
    let mut buf = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: buf has the RTE_ETH_NAME_MAX_LEN bytes the function may write.
    let rc = unsafe { sys::rte_eth_dev_get_name_by_port(port, buf.as_mut_ptr()) };
    if rc < 0 {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn dev_info(port: u16) -> Result<sys::rte_eth_dev_info, DpdkError> {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: `info` is a valid out-pointer; invalid ports return -ENODEV.
    let rc = unsafe { sys::rte_eth_dev_info_get(port, &mut info) };
    check("rte_eth_dev_info_get", rc)?;
    Ok(info)
}

/// A pool of packet mbufs (`rte_pktmbuf_pool_create`), freed on drop.
#[derive(Debug)]
pub struct Mempool<'eal> {
    raw: NonNull<sys::rte_mempool>,
    _eal: PhantomData<&'eal ()>,
}

// SAFETY: a packet mempool made with the default flags is multi-producer and
// multi-consumer; its handle may be used and freed from any thread.
unsafe impl Send for Mempool<'_> {}
// SAFETY: as above; the methods taking &self only read counters.
unsafe impl Sync for Mempool<'_> {}

impl<'eal> Mempool<'eal> {
    /// Creates a pool of `n_mbufs` mbufs with `data_room` bytes each
    /// (2048 + 128 headroom is DPDK's default, `RTE_MBUF_DEFAULT_BUF_SIZE`),
    /// a per-lcore cache of `cache` mbufs, on `socket` (`None`: any).
    /// Without hugepages each mbuf takes about 2.3 KB of the `-m` memory.
    pub fn new(
        _eal: &'eal Eal,
        name: &str,
        n_mbufs: u32,
        cache: u32,
        data_room: u16,
        socket: Option<u32>,
    ) -> Result<Mempool<'eal>, DpdkError> {
        let c_name = cstring(name)?;
        let socket = socket
            .and_then(|s| c_int::try_from(s).ok())
            .unwrap_or(sys::SOCKET_ID_ANY);
        // SAFETY: the EAL runs (we hold &Eal) and c_name is NUL-terminated.
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create(c_name.as_ptr(), n_mbufs, cache, 0, data_room, socket)
        };
        match NonNull::new(raw) {
            Some(raw) => Ok(Mempool {
                raw,
                _eal: PhantomData,
            }),
            None => Err(DpdkError::rte_errno("rte_pktmbuf_pool_create")),
        }
    }

    /// Mbufs free in the pool (its common store plus the lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: `raw` is a live pool.
        unsafe { sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs taken from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: `raw` is a live pool.
        unsafe { sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }
}

impl Drop for Mempool<'_> {
    fn drop(&mut self) {
        // SAFETY: every Port whose queues hold mbufs from this pool borrows
        // it and has been stopped and closed; every MbufBurst borrows a port.
        unsafe { sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}

/// How to set up a port for receive, for [`Port::configure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// Receive queues. Default 1.
    pub rx_queues: u16,
    /// Descriptors per receive queue (adjusted to the device's limits).
    /// Default 1024.
    pub rx_desc: u16,
    /// Receive frames not addressed to the port. Default `true`.
    pub promiscuous: bool,
    /// Spread packets over the queues with RSS when there is more than one
    /// queue and the device has RSS. Default `true`.
    pub rss: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        Self {
            rx_queues: 1,
            rx_desc: 1024,
            promiscuous: true,
            rss: true,
        }
    }
}

/// Link state of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// The link is up.
    pub up: bool,
    /// Speed in Mb/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// The basic receive counters of a port (`rte_eth_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Packets the hardware dropped because no descriptor was free
    /// (the workers were too slow).
    pub imissed: u64,
    /// Erroneous packets received.
    pub ierrors: u64,
    /// Receive failures because the mempool was empty.
    pub rx_nombuf: u64,
    /// Packets received per queue (the first 16 queues).
    pub q_ipackets: [u64; sys::RTE_ETHDEV_QUEUE_STAT_CNTRS as usize],
}

/// One extended statistic of a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xstat {
    /// The driver's name for it, for example `rx_good_packets`.
    pub name: String,
    /// Its value.
    pub value: u64,
}

/// A configured, receive-only ethdev port. Stopped and closed on drop; a
/// closed port id cannot be configured again in this process.
#[derive(Debug)]
pub struct Port<'pool> {
    id: u16,
    rx_queues: u16,
    rss: bool,
    promiscuous: bool,
    started: bool,
    queue_taken: Vec<AtomicBool>,
    _pool: PhantomData<&'pool ()>,
}

impl<'pool> Port<'pool> {
    /// Configures port `id` for receive with `config`, taking mbufs from
    /// `pool`. No transmit queues are set up. RSS is enabled only when
    /// `config.rss`, more than one queue, and the device reports RSS hash
    /// functions; [`Port::rss_enabled`] tells which.
    pub fn configure(
        id: u16,
        config: &PortConfig,
        pool: &'pool Mempool<'_>,
    ) -> Result<Port<'pool>, DpdkError> {
        let taken = PORT_TAKEN
            .get(usize::from(id))
            .ok_or(DpdkError::InvalidPort(id))?;
        // SAFETY: the EAL runs (the pool borrows it); any id is accepted.
        if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(DpdkError::InvalidPort(id));
        }
        if taken.swap(true, Ordering::AcqRel) {
            return Err(DpdkError::PortBusy(id));
        }
        // From here on the Port owns `taken`; its Drop releases it.
        let mut port = Port {
            id,
            rx_queues: 0,
            rss: false,
            promiscuous: config.promiscuous,
            started: false,
            queue_taken: Vec::new(),
            _pool: PhantomData,
        };
        port.setup(config, pool)?;
        Ok(port)
    }

    fn setup(&mut self, config: &PortConfig, pool: &Mempool<'_>) -> Result<(), DpdkError> {
        let id = self.id;
        let info = dev_info(id)?;
        if config.rx_queues == 0 || config.rx_queues > info.max_rx_queues {
            return Err(DpdkError::Unsupported {
                port: id,
                reason: format!(
                    "{} receive queues asked, the device takes 1 to {}",
                    config.rx_queues, info.max_rx_queues
                ),
            });
        }
        let mut conf = sys::rte_eth_conf::default();
        // SAFETY: reads a constant defined in the shim.
        let wanted_rss = unsafe { sys::ferrocap_eth_rss_ip_tcp_udp };
        let rss_hf = info.flow_type_rss_offloads & wanted_rss;
        self.rss = config.rss && config.rx_queues > 1 && rss_hf != 0;
        if self.rss {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        }
        // SAFETY: `conf` is a valid, zero-initialised rte_eth_conf.
        let rc = unsafe { sys::rte_eth_dev_configure(id, config.rx_queues, 0, &conf) };
        check("rte_eth_dev_configure", rc)?;
        // Keep the Drop honest from here: the device is configured.
        self.rx_queues = config.rx_queues;

        let mut nb_rx = config.rx_desc.max(1);
        // SAFETY: valid port; NULL asks not to adjust transmit descriptors.
        let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rx, ptr::null_mut()) };
        check("rte_eth_dev_adjust_nb_rx_tx_desc", rc)?;
        // SAFETY: valid port.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 {
            sys::SOCKET_ID_ANY
        } else {
            socket
        };
        for queue in 0..config.rx_queues {
            // SAFETY: configured port, queue < nb_rx_queues, NULL rxconf
            // means the driver's defaults, and the pool outlives the port
            // ('pool).
            let rc = unsafe {
                sys::rte_eth_rx_queue_setup(
                    id,
                    queue,
                    nb_rx,
                    socket as c_uint,
                    ptr::null(),
                    pool.raw.as_ptr(),
                )
            };
            check("rte_eth_rx_queue_setup", rc)?;
        }
        self.queue_taken = (0..config.rx_queues)
            .map(|_| AtomicBool::new(false))
            .collect();
        Ok(())
    }

    /// Starts the port (and turns on promiscuous mode if configured).
    pub fn start(&mut self) -> Result<(), DpdkError> {
        if self.started {
            return Ok(());
        }
        // SAFETY: configured port with its receive queues set up.
        let rc = unsafe { sys::rte_eth_dev_start(self.id) };
        check("rte_eth_dev_start", rc)?;
        self.started = true;
        if self.promiscuous {
            // SAFETY: started port.
            let rc = unsafe { sys::rte_eth_promiscuous_enable(self.id) };
            // Virtual devices may not support it; that is not a failure of
            // the capture (-ENOTSUP).
            if rc < 0 && rc != -ENOTSUP {
                check("rte_eth_promiscuous_enable", rc)?;
            }
        }
        Ok(())
    }

    /// Stops the port. Needs `&mut self`, so no [`RxQueue`] is alive.
    pub fn stop(&mut self) -> Result<(), DpdkError> {
        if !self.started {
            return Ok(());
        }
        // SAFETY: started port; no queue is being polled (&mut self).
        let rc = unsafe { sys::rte_eth_dev_stop(self.id) };
        check("rte_eth_dev_stop", rc)?;
        self.started = false;
        Ok(())
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The device name.
    pub fn name(&self) -> String {
        port_name(self.id).unwrap_or_default()
    }

    /// The number of receive queues.
    pub fn rx_queues(&self) -> u16 {
        self.rx_queues
    }

    /// Whether RSS spreads packets over the queues.
    pub fn rss_enabled(&self) -> bool {
        self.rss
    }

    /// Whether promiscuous mode is on (as the device reports it).
    pub fn promiscuous(&self) -> bool {
        // SAFETY: valid port.
        unsafe { sys::rte_eth_promiscuous_get(self.id) == 1 }
    }

    /// The link state, without waiting for auto-negotiation.
    pub fn link(&self) -> Result<LinkStatus, DpdkError> {
        let mut link = sys::rte_eth_link::default();
        // SAFETY: valid port, valid out-pointer.
        let rc = unsafe { sys::rte_eth_link_get_nowait(self.id, &mut link) };
        check("rte_eth_link_get_nowait", rc)?;
        Ok(LinkStatus {
            up: u32::from(link.link_status()) == sys::RTE_ETH_LINK_UP,
            speed_mbps: link.link_speed,
            full_duplex: u32::from(link.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        })
    }

    /// The basic counters.
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid port, valid out-pointer.
        let rc = unsafe { sys::rte_eth_stats_get(self.id, &mut s) };
        check("rte_eth_stats_get", rc)?;
        Ok(PortStats {
            ipackets: s.ipackets,
            ibytes: s.ibytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            q_ipackets: s.q_ipackets,
        })
    }

    /// Sets the basic and extended counters back to zero.
    pub fn reset_stats(&self) -> Result<(), DpdkError> {
        // SAFETY: valid port.
        let rc = unsafe { sys::rte_eth_stats_reset(self.id) };
        check("rte_eth_stats_reset", rc)
    }

    /// Every extended statistic the driver has, with its name. Allocates;
    /// call it from the control path, not per packet.
    pub fn xstats(&self) -> Result<Vec<Xstat>, DpdkError> {
        // SAFETY: valid port; NULL with size 0 asks for the count.
        let n = unsafe { sys::rte_eth_xstats_get_names(self.id, ptr::null_mut(), 0) };
        check("rte_eth_xstats_get_names", n)?;
        let n = usize::try_from(n).unwrap_or(0);
        let size = c_uint::try_from(n).unwrap_or(0);
        let mut names = vec![sys::rte_eth_xstat_name::default(); n];
        let mut values = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: `names` has room for `size` entries.
        let got = unsafe { sys::rte_eth_xstats_get_names(self.id, names.as_mut_ptr(), size) };
        check("rte_eth_xstats_get_names", got)?;
        // SAFETY: `values` has room for `size` entries.
        let got_v = unsafe { sys::rte_eth_xstats_get(self.id, values.as_mut_ptr(), size) };
        check("rte_eth_xstats_get", got_v)?;
        let count = usize::try_from(got.min(got_v)).unwrap_or(0).min(n);
        let mut out = Vec::with_capacity(count);
        for value in values.iter().take(count) {
            let Some(name) = usize::try_from(value.id).ok().and_then(|i| names.get(i)) else {
                continue;
            };
            // SAFETY: the driver wrote a NUL-terminated name into the
            // fixed-size array, and CStr stops at the first NUL.
            let name = unsafe { CStr::from_ptr(name.name.as_ptr()) };
            out.push(Xstat {
                name: name.to_string_lossy().into_owned(),
                value: value.value,
            });
        }
        Ok(out)
    }

    /// Claims receive queue `queue` for one worker. Fails when the queue
    /// does not exist or another [`RxQueue`] for it is alive. Start the
    /// port first: [`Port::start`] needs `&mut self`, so it cannot run
    /// while queues are claimed, and a stopped port delivers nothing.
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue<'_>, DpdkError> {
        let busy = DpdkError::QueueBusy {
            port: self.id,
            queue,
        };
        let claim = self.queue_taken.get(usize::from(queue)).ok_or(busy)?;
        if claim.swap(true, Ordering::AcqRel) {
            return Err(DpdkError::QueueBusy {
                port: self.id,
                queue,
            });
        }
        Ok(RxQueue {
            port: self.id,
            queue,
            claim,
            clock: TscClock::new(),
        })
    }
}

impl Drop for Port<'_> {
    fn drop(&mut self) {
        // SAFETY: no RxQueue or MbufBurst is alive (they borrow the port);
        // stopping then closing releases the queues and the mbufs they hold
        // while the pool is still alive ('pool).
        unsafe {
            if self.started {
                sys::rte_eth_dev_stop(self.id);
            }
            if self.rx_queues > 0 {
                sys::rte_eth_dev_close(self.id);
            }
        }
        if let Some(taken) = PORT_TAKEN.get(usize::from(self.id)) {
            taken.store(false, Ordering::Release);
        }
    }
}

/// One receive queue of a started [`Port`], polled by one worker.
///
/// It is `Send`, so it can move to the lcore that polls it.
#[derive(Debug)]
pub struct RxQueue<'port> {
    port: u16,
    queue: u16,
    claim: &'port AtomicBool,
    clock: TscClock,
}

impl<'port> RxQueue<'port> {
    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The queue id.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Frees what `out` holds, then receives up to [`BURST_MAX`] packets
    /// into it. Returns how many (0 when none waited). Never blocks.
    #[inline]
    pub fn recv(&mut self, out: &mut MbufBurst<'port>) -> usize {
        out.release();
        // SAFETY: this RxQueue is the only one for (port, queue), so no
        // other thread polls it; `out.mbufs` has room for BURST_MAX
        // pointers; the port and its pool outlive 'port.
        let n = unsafe {
            sys::ferrocap_eth_rx_burst(
                self.port,
                self.queue,
                out.mbufs.as_mut_ptr(),
                BURST_MAX as u16,
            )
        };
        let n = usize::from(n).min(BURST_MAX);
        out.len = n;
        if n > 0 {
            out.port = self.port;
            out.queue = self.queue;
            out.timestamp_ns = self.clock.now_ns();
            // The first frame only: a software PMD has just written the
            // frames, and prefetching all of them measured slower (64 B:
            // 0.60x of testpmd against 0.67x).
            out.prefetch(0);
        }
        n
    }
}

impl Drop for RxQueue<'_> {
    fn drop(&mut self) {
        self.claim.store(false, Ordering::Release);
    }
}

impl<'port> PacketSource for RxQueue<'port> {
    type Burst = MbufBurst<'port>;

    fn new_burst(&self) -> MbufBurst<'port> {
        MbufBurst::new()
    }

    #[inline]
    fn recv_burst(&mut self, out: &mut MbufBurst<'port>) -> Result<usize, SourceError> {
        Ok(self.recv(out))
    }
}

/// Up to [`BURST_MAX`] received mbufs, owned by the caller and reused.
/// Freed in one `rte_pktmbuf_free_bulk` by [`Burst::release`], by the next
/// receive, or on drop.
#[derive(Debug)]
pub struct MbufBurst<'port> {
    mbufs: [*mut sys::rte_mbuf; BURST_MAX],
    len: usize,
    port: u16,
    queue: u16,
    timestamp_ns: u64,
    multi_segment: u64,
    _port: PhantomData<&'port ()>,
}

// SAFETY: the burst exclusively owns the mbufs it holds; freeing an mbuf
// from another thread is allowed (without an lcore cache it goes to the
// pool's common ring).
unsafe impl Send for MbufBurst<'_> {}

impl Default for MbufBurst<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'port> MbufBurst<'port> {
    /// An empty burst.
    pub fn new() -> Self {
        Self {
            mbufs: [ptr::null_mut(); BURST_MAX],
            len: 0,
            port: 0,
            queue: 0,
            timestamp_ns: 0,
            multi_segment: 0,
            _port: PhantomData,
        }
    }

    /// How many multi-segment packets this burst has shown truncated to
    /// their first segment since it was made.
    pub fn multi_segment(&self) -> u64 {
        self.multi_segment
    }

    #[inline]
    fn mbuf(&self, index: usize) -> Option<&sys::rte_mbuf> {
        if index >= self.len {
            return None;
        }
        let m = *self.mbufs.get(index)?;
        // SAFETY: the first `len` entries are mbufs rx_burst handed to us;
        // we own them until release, and the shared borrow of self keeps
        // them alive and unchanged.
        unsafe { m.as_ref() }
    }

    #[inline]
    fn prefetch(&self, index: usize) {
        if let Some(m) = self.mbuf(index) {
            let data = m
                .buf_addr
                .cast::<u8>()
                .wrapping_add(usize::from(m.data_off));
            prefetch0(data);
        }
    }
}

impl Burst for MbufBurst<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&self, index: usize) -> Option<Packet<'_>> {
        let m = self.mbuf(index)?;
        let data_len = usize::from(m.data_len);
        let data = if m.buf_addr.is_null() || data_len == 0 {
            &[][..]
        } else {
            let start = m
                .buf_addr
                .cast::<u8>()
                .wrapping_add(usize::from(m.data_off));
            // SAFETY: an mbuf's segment holds data_len initialised bytes at
            // buf_addr + data_off (rte_pktmbuf_mtod); they stay valid and
            // unwritten while we own the mbuf, which the &self borrow covers.
            unsafe { std::slice::from_raw_parts(start, data_len) }
        };
        Some(Packet {
            data,
            meta: PacketMeta {
                port: self.port,
                queue: self.queue,
                timestamp_ns: self.timestamp_ns,
                orig_len: m.pkt_len,
            },
        })
    }

    #[inline]
    fn release(&mut self) {
        if self.len == 0 {
            return;
        }
        for i in 0..self.len {
            if let Some(m) = self.mbuf(i) {
                if m.nb_segs > 1 {
                    self.multi_segment += 1;
                }
            }
        }
        // SAFETY: the first `len` entries are mbufs we own; after the bulk
        // free we forget them (len = 0).
        unsafe { sys::rte_pktmbuf_free_bulk(self.mbufs.as_mut_ptr(), self.len as c_uint) };
        self.len = 0;
    }
}

impl Drop for MbufBurst<'_> {
    fn drop(&mut self) {
        self.release();
    }
}
