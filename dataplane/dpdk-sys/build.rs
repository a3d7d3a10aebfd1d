//! Finds the system DPDK through pkg-config, generates bindings for the small
//! part of its API that ferrocap uses, and compiles the C shim that wraps
//! DPDK's static-inline functions.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Oldest DPDK whose ABI the shim and the bindings are written against.
const MIN_DPDK: &str = "22.11";

fn missing_dpdk(why: &str) -> ! {
    panic!(
        "\n\nferrocap-dpdk-sys: cannot find DPDK >= {MIN_DPDK} through pkg-config.\n\
         Install it (bindgen also needs libclang) with:\n\n    \
         apt-get install dpdk libdpdk-dev libclang-dev pkgconf\n\n\
         or build without DPDK: `cargo build --no-default-features` for the appliance \
         (the `dpdk` feature is off by default in ferrocap-dataplane).\n\n\
         pkg-config said: {why}\n"
    );
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let lib = match pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .statik(false)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => missing_dpdk(&e.to_string()),
    };

    // The raw flags matter: they carry `-include rte_config.h` and `-march`,
    // which the parsed include paths of the pkg-config crate drop.
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    let out = match Command::new(&pkg_config)
        .args(["--cflags", "libdpdk"])
        .output()
    {
        Ok(out) if out.status.success() => out,
        Ok(out) => missing_dpdk(&String::from_utf8_lossy(&out.stderr)),
        Err(e) => missing_dpdk(&format!("{pkg_config}: {e}")),
    };
    let cflags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    println!("cargo:version={}", lib.version);
    println!("cargo:rustc-env=FERROCAP_DPDK_VERSION={}", lib.version);

    let mut build = cc::Build::new();
    build
        .file("shim.c")
        .include(".")
        .warnings(true)
        .opt_level(3);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("ferrocap_dpdk_shim");

    // Generate code for the workspace's rust-version, not the newest Rust
    // bindgen knows (which would emit `unsafe extern` blocks, Rust 1.82+).
    let rust_target = env::var("CARGO_PKG_RUST_VERSION")
        .ok()
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse().ok()))
        .and_then(|minor| bindgen::RustTarget::stable(minor, 0).ok())
        .unwrap_or_default();
    let bindings = bindgen::Builder::default()
        .rust_target(rust_target)
        .header("wrapper.h")
        .clang_args(&cflags)
        .clang_arg("-I.")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .allowlist_function(
            "rte_eal_(init|cleanup|remote_launch|wait_lcore|mp_wait_lcore|get_lcore_state)\
             |rte_lcore_(count|is_enabled|to_socket_id|index)|rte_get_next_lcore|rte_get_main_lcore\
             |rte_socket_id|rte_strerror|rte_get_tsc_hz\
             |rte_eth_dev_(count_avail|is_valid_port|get_name_by_port|get_port_by_name|info_get\
             |configure|start|stop|close|socket_id|adjust_nb_rx_tx_desc)\
             |rte_eth_(find_next|rx_queue_setup|promiscuous_enable|promiscuous_get\
             |link_get_nowait|stats_get|stats_reset|xstats_get|xstats_get_names|xstats_reset)\
             |rte_pktmbuf_(pool_create|free_bulk)|rte_mempool_(free|avail_count|in_use_count)\
             |ferrocap_.*",
        )
        .allowlist_var(
            "RTE_ETH_(NAME_MAX_LEN|LINK_.*|XSTATS_NAME_SIZE)|RTE_MAX_ETHPORTS|RTE_MAX_LCORE\
             |RTE_ETHDEV_QUEUE_STAT_CNTRS|RTE_MBUF_DEFAULT_.*|RTE_PKTMBUF_HEADROOM|SOCKET_ID_ANY\
             |RTE_MEMPOOL_CACHE_MAX_SIZE|ferrocap_.*",
        )
        .allowlist_type("rte_eth_rx_mq_mode|rte_lcore_state_t")
        .opaque_type("rte_arp_.*|rte_l2tpv2_.*|rte_ecpri_.*|rte_gtp_psc_.*")
        .derive_default(true)
        .generate_comments(false)
        .generate()
        .unwrap_or_else(|e| panic!("ferrocap-dpdk-sys: bindgen failed on the DPDK headers: {e}"));

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("ferrocap-dpdk-sys: cannot write bindings.rs");
}
