//! A free loopback port for a server another process will bind a moment later (a child
//! nats-server, a test's gateway, the bench's services).
//!
//! Binding port 0 and closing the socket hands out an *ephemeral* port, and the kernel
//! hands the same range to every outgoing connection: between the check and the child's
//! `bind`, a connection to NATS, PostgreSQL or S3 can take it as its local port, and the
//! child fails with "Address already in use" (seen in CI). Ports just below the ephemeral
//! range are never given out implicitly, so only an explicit `bind` can race for them, and
//! a process-wide cursor keeps this process's own callers apart.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// How many ports below the ephemeral range are tried, at most.
const SPAN: u32 = 12_000;
/// The lowest port ever handed out (clear of the usual service ports).
const FLOOR: u32 = 10_000;

static CURSOR: AtomicU32 = AtomicU32::new(0);

/// A loopback port nothing listens on, outside the kernel's ephemeral range where that
/// range leaves room; otherwise an ephemeral one.
pub fn unused_local_port() -> std::io::Result<u16> {
    let (low, span) = candidates(ephemeral_low());
    if span > 0 {
        // Spread processes apart (each starts at its own offset), then walk.
        let start = std::process::id().wrapping_mul(7919) % span;
        for _ in 0..span {
            let step = CURSOR.fetch_add(1, Ordering::Relaxed);
            let port = low + (start + step) % span;
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port as u16)).is_ok() {
                return Ok(port as u16);
            }
        }
    }
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// The first port of the kernel's ephemeral range (Linux's default when unreadable).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// The first candidate port and how many there are below `ephemeral_low`.
fn candidates(ephemeral_low: u32) -> (u32, u32) {
    let low = ephemeral_low.saturating_sub(SPAN).max(FLOOR);
    (low, ephemeral_low.saturating_sub(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_below_the_ephemeral_range_and_are_free() {
        let (low, span) = candidates(ephemeral_low());
        let ports: Vec<u16> = (0..20).map(|_| unused_local_port().unwrap()).collect();
        for port in &ports {
            if span > 0 {
                assert!((low..low + span).contains(&u32::from(*port)), "{port} outside {low}..{}", low + span);
            }
            TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).unwrap_or_else(|e| panic!("{port}: {e}"));
        }
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len(), "the same port twice: {ports:?}");
    }

    #[test]
    fn the_candidates_stay_clear_of_low_ports_and_of_the_ephemeral_range() {
        assert_eq!(candidates(32_768), (20_768, 12_000));
        assert_eq!(candidates(15_000), (10_000, 5_000));
        assert_eq!(candidates(1_024), (10_000, 0));
    }
}
