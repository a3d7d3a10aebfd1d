//! Packet sources: one trait, [`PacketSource`], for batched receive into
//! storage that the caller owns and reuses.
//!
//! A worker creates one [`PacketSource::Burst`] with [`PacketSource::new_burst`]
//! and then calls [`PacketSource::recv_burst`] in a loop with that same burst.
//! Each call first releases what the burst still holds from the previous call
//! (for DPDK: the mbufs go back to their mempool in one bulk free), then fills
//! it with up to [`BURST_MAX`] packets. The packets are views borrowed from the
//! burst, so the borrow checker guarantees that no packet is read after it was
//! released.
//!
//! The promises every implementation keeps:
//! - `recv_burst` returns `Ok(n)` with `n == out.len() <= BURST_MAX`;
//!   `Ok(0)` means "nothing right now, poll again";
//! - `Err(SourceError::EndOfStream)` means the source will never deliver
//!   another packet (end of a file, generator done); polling again keeps
//!   returning it;
//! - no allocation per packet once the burst has warmed up;
//! - [`Burst::release`] and dropping a burst free everything it holds.
//!
//! Implementations: [`MemorySource`] here (frames held in memory, for tests
//! and replay), and with the `dpdk` feature [`dpdk::RxQueue`].
#![deny(unsafe_code)]

#[cfg(feature = "dpdk")]
#[allow(unsafe_code)]
pub mod dpdk;

/// The most packets one burst holds.
pub const BURST_MAX: usize = 32;

/// What a source knows about one packet besides its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// The port the packet arrived on (a DPDK port id, or the index of an
    /// input file or generator stream).
    pub port: u16,
    /// The receive queue on that port (0 for sources without queues).
    pub queue: u16,
    /// Arrival time in nanoseconds since the Unix epoch. Sources that read a
    /// clock read it once per burst, so packets of one burst may share it.
    pub timestamp_ns: u64,
    /// Length of the packet on the wire. It is at least `data.len()`; it is
    /// larger when the source truncated the bytes (a capture's snap length,
    /// or a multi-segment mbuf of which only the first segment is shown).
    pub orig_len: u32,
}

/// One received packet: its bytes and its metadata, borrowed from a [`Burst`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The captured bytes, starting at the link-layer header.
    pub data: &'a [u8],
    /// Where and when the packet arrived.
    pub meta: PacketMeta,
}

/// A batch of received packets, owned by the caller and reused across calls.
pub trait Burst {
    /// How many packets the burst holds now.
    fn len(&self) -> usize;

    /// `true` when the burst holds no packet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packet at `index`, or `None` when `index >= self.len()`.
    fn get(&self, index: usize) -> Option<Packet<'_>>;

    /// Gives every packet back to the source (frees the mbufs) and leaves the
    /// burst empty. Calling it on an empty burst does nothing.
    fn release(&mut self);

    /// The packets in order of arrival.
    fn iter(&self) -> BurstIter<'_, Self>
    where
        Self: Sized,
    {
        BurstIter {
            burst: self,
            next: 0,
        }
    }
}

/// Iterator over the packets of a [`Burst`], from [`Burst::iter`].
#[derive(Debug)]
pub struct BurstIter<'a, B> {
    burst: &'a B,
    next: usize,
}

impl<'a, B: Burst> Iterator for BurstIter<'a, B> {
    type Item = Packet<'a>;

    fn next(&mut self) -> Option<Packet<'a>> {
        let packet = self.burst.get(self.next)?;
        self.next += 1;
        Some(packet)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.burst.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

/// Batched receive of packets into a [`Burst`] the caller owns.
pub trait PacketSource {
    /// The storage this source fills.
    type Burst: Burst;

    /// A new, empty burst for this source. Call it once per worker, outside
    /// the receive loop.
    fn new_burst(&self) -> Self::Burst;

    /// Releases what `out` holds, then fills it with up to [`BURST_MAX`]
    /// packets and returns how many (see the module docs for the contract).
    fn recv_burst(&mut self, out: &mut Self::Burst) -> Result<usize, SourceError>;
}

/// Why a source could not deliver packets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source has no more packets and never will.
    #[error("end of stream")]
    EndOfStream,
    /// Reading the underlying input failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The device reported an error (for DPDK: the rte_strerror text).
    #[error("device error: {0}")]
    Device(String),
}

/// A [`Burst`] that owns copies of its packets in one reused buffer.
///
/// For sources that have no buffers of their own to lend (files, generators).
/// After the first few bursts the buffer has reached its working size and
/// [`OwnedBurst::push`] no longer allocates.
#[derive(Debug, Default, Clone)]
pub struct OwnedBurst {
    bytes: Vec<u8>,
    /// End offset in `bytes` of each packet, and its metadata.
    packets: Vec<(usize, PacketMeta)>,
}

impl OwnedBurst {
    /// An empty burst with room for [`BURST_MAX`] packets of `typical_len` bytes.
    pub fn with_capacity(typical_len: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(typical_len.saturating_mul(BURST_MAX)),
            packets: Vec::with_capacity(BURST_MAX),
        }
    }

    /// `true` when the burst holds [`BURST_MAX`] packets.
    pub fn is_full(&self) -> bool {
        self.packets.len() >= BURST_MAX
    }

    /// Appends a copy of `data` with its metadata. Returns `false`, and
    /// appends nothing, when the burst is full.
    pub fn push(&mut self, data: &[u8], meta: PacketMeta) -> bool {
        if self.is_full() {
            return false;
        }
        self.bytes.extend_from_slice(data);
        self.packets.push((self.bytes.len(), meta));
        true
    }
}

impl Burst for OwnedBurst {
    fn len(&self) -> usize {
        self.packets.len()
    }

    fn get(&self, index: usize) -> Option<Packet<'_>> {
        let &(end, meta) = self.packets.get(index)?;
        let start = match index.checked_sub(1) {
            Some(prev) => self.packets.get(prev).map_or(0, |p| p.0),
            None => 0,
        };
        let data = self.bytes.get(start..end)?;
        Some(Packet { data, meta })
    }

    fn release(&mut self) {
        self.bytes.clear();
        self.packets.clear();
    }
}

/// A source that replays frames held in memory, once or in a loop.
///
/// Metadata comes from each frame as given; `orig_len` is set to the frame's
/// length when it is given as 0.
#[derive(Debug, Clone)]
pub struct MemorySource {
    frames: Vec<(Vec<u8>, PacketMeta)>,
    next: usize,
    looping: bool,
}

impl MemorySource {
    /// Replays `frames` once, then reports [`SourceError::EndOfStream`].
    pub fn new(frames: Vec<(Vec<u8>, PacketMeta)>) -> Self {
        Self {
            frames,
            next: 0,
            looping: false,
        }
    }

    /// Replays `frames` forever (never ends unless `frames` is empty).
    pub fn looping(frames: Vec<(Vec<u8>, PacketMeta)>) -> Self {
        Self {
            looping: true,
            ..Self::new(frames)
        }
    }
}

impl PacketSource for MemorySource {
    type Burst = OwnedBurst;

    fn new_burst(&self) -> OwnedBurst {
        let typical = self.frames.first().map_or(0, |f| f.0.len());
        OwnedBurst::with_capacity(typical)
    }

    fn recv_burst(&mut self, out: &mut OwnedBurst) -> Result<usize, SourceError> {
        out.release();
        while !out.is_full() {
            if self.next >= self.frames.len() {
                if self.looping && !self.frames.is_empty() {
                    self.next = 0;
                } else {
                    break;
                }
            }
            let Some((data, meta)) = self.frames.get(self.next) else {
                break;
            };
            let mut meta = *meta;
            if meta.orig_len == 0 {
                meta.orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
            }
            out.push(data, meta);
            self.next += 1;
        }
        if out.is_empty() {
            return Err(SourceError::EndOfStream);
        }
        Ok(out.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize) -> Vec<(Vec<u8>, PacketMeta)> {
        (0..n)
            .map(|i| {
                let len = 1 + i % 7;
                let byte = u8::try_from(i % 256).unwrap_or(0);
                let meta = PacketMeta {
                    port: 3,
                    timestamp_ns: i as u64,
                    ..PacketMeta::default()
                };
                (vec![byte; len], meta)
            })
            .collect()
    }

    #[test]
    fn memory_source_delivers_every_frame_once_in_bursts() {
        // (frames, expected burst sizes)
        let cases: &[(usize, &[usize])] = &[
            (0, &[]),
            (1, &[1]),
            (32, &[32]),
            (33, &[32, 1]),
            (70, &[32, 32, 6]),
        ];
        for &(n, sizes) in cases {
            let input = frames(n);
            let mut src = MemorySource::new(input.clone());
            let mut burst = src.new_burst();
            let mut got_sizes = Vec::new();
            let mut got = Vec::new();
            loop {
                match src.recv_burst(&mut burst) {
                    Ok(k) => {
                        assert_eq!(k, burst.len());
                        got_sizes.push(k);
                        for p in burst.iter() {
                            got.push((p.data.to_vec(), p.meta));
                        }
                    }
                    Err(SourceError::EndOfStream) => break,
                    Err(e) => panic!("unexpected error {e}"),
                }
            }
            assert_eq!(got_sizes, sizes, "burst sizes for {n} frames");
            assert_eq!(got.len(), n);
            for ((data, meta), (want_data, want_meta)) in got.iter().zip(&input) {
                assert_eq!(data, want_data);
                assert_eq!(meta.port, want_meta.port);
                assert_eq!(meta.timestamp_ns, want_meta.timestamp_ns);
                assert_eq!(meta.orig_len as usize, want_data.len());
            }
            // Still ended after the end.
            assert!(matches!(
                src.recv_burst(&mut burst),
                Err(SourceError::EndOfStream)
            ));
            assert!(burst.is_empty());
        }
    }

    #[test]
    fn looping_source_wraps_around() {
        let mut src = MemorySource::looping(frames(5));
        let mut burst = src.new_burst();
        assert_eq!(src.recv_burst(&mut burst).ok(), Some(32));
        let firsts: Vec<u8> = burst.iter().map(|p| p.data[0]).collect();
        let want: Vec<u8> = (0..32u8).map(|i| i % 5).collect();
        assert_eq!(firsts, want);
    }

    #[test]
    fn owned_burst_get_out_of_range_and_full() {
        let mut b = OwnedBurst::with_capacity(4);
        assert!(b.get(0).is_none());
        for i in 0..BURST_MAX {
            assert!(b.push(&[i as u8, 1], PacketMeta::default()));
        }
        assert!(!b.push(&[9], PacketMeta::default()));
        assert_eq!(b.len(), BURST_MAX);
        assert_eq!(b.get(31).map(|p| p.data), Some(&[31u8, 1][..]));
        assert!(b.get(BURST_MAX).is_none());
        assert_eq!(b.iter().size_hint(), (BURST_MAX, Some(BURST_MAX)));
        b.release();
        assert!(b.is_empty());
        // Empty frames are kept as empty packets.
        assert!(b.push(&[], PacketMeta::default()));
        assert_eq!(b.get(0).map(|p| p.data.len()), Some(0));
    }
}
