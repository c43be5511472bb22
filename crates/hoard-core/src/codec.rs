//! Compression with borg's specs, in a self-describing frame (layout in docs/format.md):
//!
//! ```text
//! 0  1  codec: 0 none, 1 lz4, 2 zstd, 3 zlib, 4 lzma, 5 obfuscate
//! 1  1  level used (0 where the codec has none; obfuscate's SPEC less 100 above 100)
//! 2  4  uncompressed length, little endian
//! 6  .. payload
//! ```
//!
//! A codec whose output would not be smaller than its input stores the data with `none`, so a
//! frame is never much larger than its data, unless it is padded on purpose (`obfuscate`, whose
//! payload is the length of a frame of another codec, that frame, and zeros). Decompression
//! checks the declared length against the caller's limit before it allocates, and that the
//! payload yields exactly that many bytes.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// Bytes before the payload.
pub const FRAME_HEADER_LEN: usize = 6;
/// The decompression limit used where the caller names none: 64 MiB, far above any chunk.
pub const DEFAULT_LIMIT: usize = 64 << 20;

/// A compression spec, as given to `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Stored as is.
    None,
    /// LZ4 (fast; borg's default).
    Lz4,
    /// Zstandard at level 1..=22.
    Zstd(u8),
    /// zlib (deflate with zlib's header) at level 0..=9.
    Zlib(u8),
    /// LZMA (xz container) at preset 0..=9.
    Lzma(u8),
    /// Try lz4 first; use the named codec only where the data compresses (borg's `auto`).
    Auto(AutoTarget),
    /// Compress with the wrapped codec, then pad with zeros so that the stored size tells less
    /// about the data (borg's `obfuscate,SPEC,C[,L]`, with borg's SPEC; [`padding`] for them).
    Obfuscate(u16, Wrapped),
}

/// A codec that `obfuscate` may wrap: any but `obfuscate` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapped {
    /// `none`.
    None,
    /// `lz4`.
    Lz4,
    /// `zstd,L`.
    Zstd(u8),
    /// `zlib,L`.
    Zlib(u8),
    /// `lzma,L`.
    Lzma(u8),
    /// `auto,C[,L]`.
    Auto(AutoTarget),
}

impl From<Wrapped> for Codec {
    fn from(w: Wrapped) -> Self {
        match w {
            Wrapped::None => Self::None,
            Wrapped::Lz4 => Self::Lz4,
            Wrapped::Zstd(l) => Self::Zstd(l),
            Wrapped::Zlib(l) => Self::Zlib(l),
            Wrapped::Lzma(l) => Self::Lzma(l),
            Wrapped::Auto(t) => Self::Auto(t),
        }
    }
}

/// The expensive codec behind `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoTarget {
    /// `auto,lz4`.
    Lz4,
    /// `auto,zstd,L`.
    Zstd(u8),
    /// `auto,zlib,L`.
    Zlib(u8),
    /// `auto,lzma,L`.
    Lzma(u8),
}

impl From<AutoTarget> for Codec {
    fn from(t: AutoTarget) -> Self {
        match t {
            AutoTarget::Lz4 => Self::Lz4,
            AutoTarget::Zstd(l) => Self::Zstd(l),
            AutoTarget::Zlib(l) => Self::Zlib(l),
            AutoTarget::Lzma(l) => Self::Lzma(l),
        }
    }
}

const ID_NONE: u8 = 0;
const ID_LZ4: u8 = 1;
const ID_ZSTD: u8 = 2;
const ID_ZLIB: u8 = 3;
const ID_LZMA: u8 = 4;
const ID_OBFUSCATE: u8 = 5;

/// The largest frame `obfuscate` pads to: 20 MiB less 1 KiB (borg stops its padding where the
/// compressed data and the padding reach its `MAX_DATA_SIZE`, 20 MiB less 41 bytes, less 1 KiB).
/// Padding stops there, however large the SPEC's random draw.
pub const OBFUSCATED_MAX: usize = (20 << 20) - 1024;

/// Whether `spec` is one of borg's obfuscation SPECs: 1 to 6, 110 to 123 or 250.
fn obfuscation_spec(spec: u16) -> bool {
    (1..=6).contains(&spec) || (110..=123).contains(&spec) || spec == 250
}

/// The frame's level byte for obfuscation SPEC `spec` (110 to 123 and 250 as 10 to 23 and 150).
fn spec_byte(spec: u16) -> u8 {
    // `spec` passed `obfuscation_spec`: at most 250.
    (if spec > 100 { spec - 100 } else { spec }) as u8
}

/// The zeros `obfuscate` with SPEC `spec` appends to a frame
/// of `len` bytes, given a uniform random number `r` in [0, 1) (borg's rules):
/// - 1 to 6: `len` times 10^SPEC / 1000 / max(r, 0.0001), so usually a few percent for SPEC 1
///   and rarely up to 10,000 times as much;
/// - 110 to 123: up to 2^(SPEC - 100) bytes (1 KiB to 8 MiB), uniformly;
/// - 250: Padmé, up to the next size with its low bits zero (at most 12% more).
///
/// Never past [`OBFUSCATED_MAX`] in all.
pub fn padding(spec: u16, len: usize, r: f64) -> usize {
    let add = match spec {
        1..=6 => {
            let factor = 0.001 * 10f64.powi(i32::from(spec));
            (len as f64 * factor / r.max(0.0001)) as usize
        }
        110..=123 => ((1u64 << (spec - 100)) as f64 * r) as usize,
        250 if len >= 2 => {
            let e = usize::BITS - 1 - len.leading_zeros();
            let s = u32::BITS - e.leading_zeros();
            let mask = (1usize << (e - s)) - 1;
            ((len + mask) & !mask) - len
        }
        _ => 0,
    };
    add.min(OBFUSCATED_MAX.saturating_sub(len))
}

/// A uniform random number in [0, 1) from the system's generator.
fn random_unit() -> Result<f64, Error> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::new(ErrorKind::Internal, "no random numbers for obfuscate"))?;
    Ok((u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
}

fn level(
    spec: &str,
    field: Option<&str>,
    default: u8,
    range: std::ops::RangeInclusive<u8>,
) -> Result<u8, Error> {
    let Some(f) = field else { return Ok(default) };
    match f.trim().parse::<u8>() {
        Ok(l) if range.contains(&l) => Ok(l),
        _ => Err(Error::invalid(format!(
            "compression {spec:?}: level must be {} to {}, got {f:?}",
            range.start(),
            range.end()
        ))),
    }
}

impl FromStr for Codec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let fields: Vec<&str> = spec.split(',').map(str::trim).collect();
        if fields[0] == "obfuscate" {
            if !(3..=5).contains(&fields.len()) {
                return Err(Error::invalid(format!(
                    "compression {spec:?}: expected obfuscate,SPEC,C[,L]"
                )));
            }
            let level = fields[1]
                .parse::<u16>()
                .ok()
                .filter(|&l| obfuscation_spec(l))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "compression {spec:?}: obfuscate's SPEC must be 1 to 6, 110 to 123 or 250, got {:?}",
                        fields[1]
                    ))
                })?;
            let inner_spec = fields[2..].join(",");
            // An error names the whole spec, not only the part after SPEC.
            let inner: Codec = inner_spec.parse().map_err(|e: Error| {
                Error::invalid(e.message.replacen(
                    &format!("compression {inner_spec:?}"),
                    &format!("compression {spec:?}"),
                    1,
                ))
            })?;
            let Some(wrapped) = inner.wrapped() else {
                return Err(Error::invalid(format!(
                    "compression {spec:?}: obfuscate inside obfuscate"
                )));
            };
            return Ok(Codec::Obfuscate(level, wrapped));
        }
        let simple = |name: &str, lvl: Option<&str>, extra: usize| -> Result<Codec, Error> {
            if extra > 0 {
                return Err(Error::invalid(format!(
                    "compression {spec:?}: too many fields"
                )));
            }
            match name {
                "none" if lvl.is_none() => Ok(Codec::None),
                "lz4" if lvl.is_none() => Ok(Codec::Lz4),
                "zstd" => Ok(Codec::Zstd(level(spec, lvl, 3, 1..=22)?)),
                "zlib" => Ok(Codec::Zlib(level(spec, lvl, 6, 0..=9)?)),
                "lzma" => Ok(Codec::Lzma(level(spec, lvl, 6, 0..=9)?)),
                _ => Err(Error::invalid(format!(
                    "compression {spec:?}: expected none, lz4, zstd[,1-22], zlib[,0-9], lzma[,0-9], auto,C[,L] or obfuscate,SPEC,C[,L]"
                ))),
            }
        };
        if fields[0] == "auto" {
            let target = match simple(
                fields.get(1).copied().unwrap_or(""),
                fields.get(2).copied(),
                fields.len().saturating_sub(3),
            )? {
                Codec::Lz4 => AutoTarget::Lz4,
                Codec::Zstd(l) => AutoTarget::Zstd(l),
                Codec::Zlib(l) => AutoTarget::Zlib(l),
                Codec::Lzma(l) => AutoTarget::Lzma(l),
                _ => {
                    return Err(Error::invalid(format!(
                        "compression {spec:?}: auto needs a compressor"
                    )));
                }
            };
            return Ok(Codec::Auto(target));
        }
        simple(
            fields[0],
            fields.get(1).copied(),
            fields.len().saturating_sub(2),
        )
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::None => write!(f, "none"),
            Self::Lz4 => write!(f, "lz4"),
            Self::Zstd(l) => write!(f, "zstd,{l}"),
            Self::Zlib(l) => write!(f, "zlib,{l}"),
            Self::Lzma(l) => write!(f, "lzma,{l}"),
            Self::Auto(t) => write!(f, "auto,{}", Codec::from(t)),
            Self::Obfuscate(s, w) => write!(f, "obfuscate,{s},{}", Codec::from(w)),
        }
    }
}

impl Codec {
    /// This codec padded as `outer` pads, if `outer` obfuscates (and this codec does not already):
    /// metadata compressed with a codec of its own is then obfuscated like the data.
    pub fn obfuscated_as(self, outer: Codec) -> Codec {
        match (outer, self.wrapped()) {
            (Codec::Obfuscate(spec, _), Some(wrapped)) => Codec::Obfuscate(spec, wrapped),
            _ => self,
        }
    }

    /// This codec as `obfuscate` may wrap it; `None` for `obfuscate` itself.
    fn wrapped(self) -> Option<Wrapped> {
        Some(match self {
            Codec::None => Wrapped::None,
            Codec::Lz4 => Wrapped::Lz4,
            Codec::Zstd(l) => Wrapped::Zstd(l),
            Codec::Zlib(l) => Wrapped::Zlib(l),
            Codec::Lzma(l) => Wrapped::Lzma(l),
            Codec::Auto(t) => Wrapped::Auto(t),
            Codec::Obfuscate(..) => return None,
        })
    }
}

/// A compressed frame: either a codec's whole output (header included) or the header of a stored
/// frame in front of the caller's own data, which is then not copied.
pub enum Frame<'a> {
    /// Header and payload in one buffer.
    Whole(Vec<u8>),
    /// A `none` header; the payload is the input itself.
    Stored([u8; FRAME_HEADER_LEN], &'a [u8]),
}

impl Frame<'_> {
    fn stored(data: &[u8]) -> Frame<'_> {
        let mut header = [ID_NONE, 0, 0, 0, 0, 0];
        // `compress_frame` refuses inputs of 4 GiB or more.
        header[2..].copy_from_slice(&(data.len() as u32).to_le_bytes());
        Frame::Stored(header, data)
    }

    /// The frame as two byte slices to be written one after the other.
    pub fn parts(&self) -> [&[u8]; 2] {
        match self {
            Frame::Whole(v) => [v, &[]],
            Frame::Stored(h, d) => [h, d],
        }
    }

    /// Bytes in the frame.
    pub fn len(&self) -> usize {
        let [a, b] = self.parts();
        a.len() + b.len()
    }

    /// Never true: a frame has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The frame in one buffer.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Frame::Whole(v) => v,
            Frame::Stored(h, d) => [&h[..], d].concat(),
        }
    }
}

thread_local! {
    /// Output space for the codecs that write into a slice, kept per thread so that compressing a
    /// chunk neither allocates nor zero-fills a buffer of its bound each time.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static ZSTD: RefCell<Option<(u8, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Appends a frame header for `orig_len` bytes compressed with codec `id` at level `lvl`.
fn push_header(out: &mut Vec<u8>, id: u8, lvl: u8, orig_len: usize) {
    out.push(id);
    out.push(lvl);
    // Callers pass chunks and objects below 4 GiB (checked in `compress_frame_into`).
    out.extend_from_slice(&(orig_len as u32).to_le_bytes());
}

/// Compresses `data` into `out` as one lz4 block; its length, or `None` where it does not fit
/// or [`looks_incompressible`] says lz4 would not shrink it. liblz4 (the library borg uses)
/// finds more matches than lz4_flex: about 0.3% smaller on machine code, the same on text. Its
/// blocks are the same format, so lz4_flex still decodes them.
fn lz4_block(data: &[u8], out: &mut [u8]) -> Option<usize> {
    if looks_incompressible(data) {
        return None;
    }
    lz4::block::compress_to_buffer(data, None, false, out).ok()
}

/// Bytes in each sample [`looks_incompressible`] compresses.
pub const SAMPLE_LEN: usize = 4096;
/// [`looks_incompressible`] takes one sample per this many bytes of its input.
pub const SAMPLE_SPACING: usize = 64 << 10;
/// Inputs shorter than this are always compressed whole.
pub const SAMPLED_MIN: usize = 4 * SAMPLE_SPACING;

/// Whether `data` (at least [`SAMPLED_MIN`] bytes) looks like data lz4 cannot shrink (random,
/// encrypted or already compressed): no [`SAMPLE_LEN`]-byte sample of one every
/// [`SAMPLE_SPACING`] bytes, spread evenly from its start to its end, shrinks under lz4 by even a
/// byte. The samples are tried in order and the first that shrinks ends the test, so data that
/// compresses costs one sample; data that does not costs about 6% of compressing it whole, and
/// skips lz4 (which on such data copies every byte into its output as literals) and the frame it
/// would have thrown away. Data whose compressible parts all lie between samples is then stored
/// as is where lz4 would have shrunk it a little; a part that shrinks must be shorter than the
/// spacing to be missed.
pub fn looks_incompressible(data: &[u8]) -> bool {
    if data.len() < SAMPLED_MIN {
        return false;
    }
    let samples = data.len() / SAMPLE_SPACING;
    let last = data.len() - SAMPLE_LEN;
    let mut out = [0u8; SAMPLE_LEN - 1];
    (0..samples).all(|k| {
        let at = last * k / (samples - 1);
        // Limited to one byte less than the sample: liblz4 gives up (an error) where its output
        // would not be smaller than its input.
        lz4::block::compress_to_buffer(&data[at..at + SAMPLE_LEN], None, false, &mut out).is_err()
    })
}

/// Decompresses the lz4 block `payload` into `out` with liblz4's bounds-checked decoder, which
/// decodes about twice as fast as lz4_flex's; the number of bytes it wrote. A block that would
/// write past `out` or read past `payload` is an error, never a partial decode.
fn lz4_into(payload: &[u8], out: &mut [u8]) -> std::io::Result<usize> {
    let size = i32::try_from(out.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    // liblz4 takes the payload's length as a C int: a longer one must not wrap.
    if i32::try_from(payload.len()).is_err() {
        return Err(std::io::Error::other("frame too large"));
    }
    lz4::block::decompress_to_buffer(payload, Some(size), out)
}

/// The room liblz4 needs past the end of an lz4 block's `len` bytes of output to decompress it in
/// place: lz4.h's `LZ4_DECOMPRESS_INPLACE_MARGIN`, taken of the output's length as its
/// `LZ4_DECOMPRESS_INPLACE_BUFFER_SIZE` takes it.
pub const fn lz4_in_place_margin(len: usize) -> usize {
    (len >> 8) + 32
}

/// Whether `frame`, which decompresses to `len` bytes ([`frame_len`]), is an lz4 frame that
/// [`lz4_in_place`] may decompress: its payload is shorter than its output, as that of every lz4
/// frame [`compress`] writes is (a longer one is stored as is).
pub fn lz4_fits_in_place(frame: &[u8], len: usize) -> bool {
    frame.first() == Some(&ID_LZ4) && frame.len().saturating_sub(FRAME_HEADER_LEN) < len
}

/// Decompresses the lz4 block that fills the last `payload` bytes of `buf` into its first `len`
/// bytes, in the same buffer (lz4.h, "In-place compression and decompression"), so that opening a
/// chunk needs one buffer of its length rather than one for the frame and one for the output.
/// `buf` must be at least `len + lz4_in_place_margin(len)` bytes long and `payload` shorter than
/// `len`; otherwise, or where the block does not decompress to exactly `len` bytes, it is an
/// error, and `buf`'s bytes are then unspecified.
#[allow(unsafe_code)]
pub fn lz4_in_place(buf: &mut [u8], payload: usize, len: usize) -> Result<(), Error> {
    let bad = |why: &str| Error::corrupt(format!("lz4 data does not decompress: {why}"));
    let margin = lz4_in_place_margin(len);
    if payload >= len || buf.len() < len.saturating_add(margin) {
        return Err(Error::invalid(format!(
            "no room to decompress {payload} bytes into {len} in a buffer of {}",
            buf.len()
        )));
    }
    let (Ok(src_len), Ok(dst_len)) = (i32::try_from(payload), i32::try_from(len)) else {
        return Err(bad("frame too large"));
    };
    let end = buf.len();
    let base = buf.as_mut_ptr();
    // SAFETY: `src` and `dst` are raw pointers made from the one `&mut` borrow of `buf`, and `buf`
    // is not used again until the call returns. `src..src + payload` is the last
    // `payload` bytes of `buf` and `dst..dst + len` its first `len` bytes (both in bounds:
    // `payload < len < buf.len()`). `LZ4_decompress_safe` reads only `payload` bytes from `src`
    // and writes only `len` bytes at `dst`, whatever the block holds (it is liblz4's bounds-
    // checked decoder, which returns a negative number rather than go past either end), so no
    // byte outside `buf` is touched. That the two ranges overlap is what lz4.h documents for
    // in-place decompression, which it supports with the input at the end of the buffer and a
    // buffer of at least `LZ4_DECOMPRESS_INPLACE_BUFFER_SIZE(len)` bytes (checked above: `len +
    // margin`) for input shorter than its output (checked above): the write position then never
    // overtakes the read position, so a valid block decodes to the same bytes as out of place.
    // (For a malformed block liblz4's 16- and 32-byte inner copies may overlap their source, which
    // C leaves undefined but which still stays inside `buf`; the blob was authenticated before.)
    let wrote = unsafe {
        let src = base.add(end - payload);
        lz4::liblz4::LZ4_decompress_safe(src.cast(), base.cast(), src_len, dst_len)
    };
    if wrote < 0 {
        return Err(bad("the block is malformed"));
    }
    if wrote != dst_len {
        return Err(bad(&format!("yields {wrote} bytes, header says {len}")));
    }
    Ok(())
}

/// Decompresses the zstd frame `payload` into `out` with this thread's decompressor (a new
/// decompression context per frame was a visible cost of reading many small trees).
fn zstd_into(payload: &[u8], out: &mut [u8]) -> std::io::Result<usize> {
    ZSTD_DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        d.decompress_to_buffer(payload, out)
    })
}

/// Compresses `data` into `out` as one zstd frame at `level`, with this thread's compressor.
fn zstd_block(level: u8, data: &[u8], out: &mut [u8]) -> Option<usize> {
    ZSTD.with(|cell| -> Option<usize> {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(lv, _)| *lv) != Some(level) {
            *slot = Some((level, zstd::bulk::Compressor::new(i32::from(level)).ok()?));
        }
        let (_, c) = slot.as_mut()?;
        c.compress_to_buffer(data, out).ok()
    })
}

/// Runs `codec_fn` on a per-thread buffer of at least `bound` bytes and appends the frame to
/// `out` if its output is smaller than the input; returns whether it did.
fn with_scratch(
    out: &mut Vec<u8>,
    orig_len: usize,
    id: u8,
    lvl: u8,
    bound: usize,
    codec_fn: impl FnOnce(&mut [u8]) -> Option<usize>,
) -> bool {
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        match codec_fn(&mut scratch[..bound]) {
            Some(n) if n < orig_len => {
                push_header(out, id, lvl, orig_len);
                out.extend_from_slice(&scratch[..n]);
                true
            }
            _ => false,
        }
    })
}

/// Appends `data` compressed with one real codec to `out` as a frame; returns the frame's length,
/// or `None` (with `out` as it was) where the codec failed or did not shrink the data.
fn try_codec_into(codec: Codec, data: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let start = out.len();
    let done = match codec {
        Codec::None | Codec::Auto(_) | Codec::Obfuscate(..) => false,
        Codec::Lz4 => {
            let bound = lz4_flex::block::get_maximum_output_size(data.len());
            with_scratch(out, data.len(), ID_LZ4, 0, bound, |buf| {
                lz4_block(data, buf)
            })
        }
        Codec::Zstd(l) => {
            let bound = zstd::zstd_safe::compress_bound(data.len());
            with_scratch(out, data.len(), ID_ZSTD, l, bound, |buf| {
                zstd_block(l, data, buf)
            })
        }
        Codec::Zlib(l) => {
            push_header(out, ID_ZLIB, l, data.len());
            let mut enc =
                flate2::write::ZlibEncoder::new(&mut *out, flate2::Compression::new(u32::from(l)));
            enc.write_all(data).is_ok() && enc.finish().is_ok()
        }
        Codec::Lzma(l) => {
            push_header(out, ID_LZMA, l, data.len());
            match liblzma::stream::Stream::new_easy_encoder(
                u32::from(l),
                liblzma::stream::Check::None,
            ) {
                Ok(stream) => {
                    let mut enc = liblzma::write::XzEncoder::new_stream(&mut *out, stream);
                    enc.write_all(data).is_ok() && enc.finish().is_ok()
                }
                Err(_) => false,
            }
        }
    };
    let len = out.len() - start;
    if done && len < FRAME_HEADER_LEN + data.len() {
        Some(len)
    } else {
        out.truncate(start);
        None
    }
}

/// Compresses `data` (below 4 GiB) into a self-describing frame, in one buffer.
pub fn compress(codec: Codec, data: &[u8]) -> Result<Vec<u8>, Error> {
    compress_frame(codec, data).map(Frame::into_vec)
}

/// Compresses `data` (below 4 GiB) into a frame that borrows `data` where it is stored as is, so
/// that incompressible data is copied only once, into the blob that seals it.
pub fn compress_frame(codec: Codec, data: &[u8]) -> Result<Frame<'_>, Error> {
    let mut out = Vec::new();
    if compress_codec_into(codec, data, &mut out)? {
        Ok(Frame::Whole(out))
    } else {
        Ok(Frame::stored(data))
    }
}

/// Appends the frame of `data` (below 4 GiB) compressed with `codec` to `out`, a buffer the caller
/// reuses, so that compressing a chunk allocates nothing once the buffer has grown.
pub fn compress_frame_into(codec: Codec, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    if !compress_codec_into(codec, data, out)? {
        push_header(out, ID_NONE, 0, data.len());
        out.extend_from_slice(data);
    }
    Ok(())
}

/// Writes the frame of `data` (below 4 GiB) compressed with `codec` at the start of `buf` and
/// returns the frame's length. `buf` is the caller's to reuse: lz4 and zstd compress straight into
/// it, so no second buffer of the codec's bound is needed (one per thread was 8 MiB with the
/// default chunker); it grows to that bound (see `grow`: only the pages written become memory),
/// is never shrunk, and its bytes past the frame are left over from earlier use.
pub fn compress_frame_in(codec: Codec, data: &[u8], buf: &mut Vec<u8>) -> Result<usize, Error> {
    if data.len() > u32::MAX as usize {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "cannot compress 4 GiB or more at once",
        ));
    }
    let compressed = match codec {
        Codec::None => None,
        Codec::Lz4 => {
            let bound = lz4_flex::block::get_maximum_output_size(data.len());
            compress_in(buf, data.len(), ID_LZ4, 0, bound, |out| {
                lz4_block(data, out)
            })
        }
        Codec::Zstd(l) => {
            let bound = zstd::zstd_safe::compress_bound(data.len());
            compress_in(buf, data.len(), ID_ZSTD, l, bound, |out| {
                zstd_block(l, data, out)
            })
        }
        // The others write through `Write` or try two codecs: appended as before.
        _ => {
            buf.clear();
            compress_frame_into(codec, data, buf)?;
            return Ok(buf.len());
        }
    };
    Ok(match compressed {
        Some(n) => n,
        None => {
            let n = FRAME_HEADER_LEN + data.len();
            grow(buf, n);
            header_at(buf, ID_NONE, 0, data.len());
            buf[FRAME_HEADER_LEN..n].copy_from_slice(data);
            n
        }
    })
}

/// Makes `buf` at least `len` bytes long, with no room beyond (a doubling would keep up to twice
/// the largest chunk's bound per thread). What it held is not kept: a larger buffer is a new
/// zeroed allocation, which the system maps on demand (a chunk-sized one is above the mmap
/// threshold, `crates/hoard-node/src/malloc.rs`), so only the pages a frame is written to become
/// memory. Growing in place would zero-fill all of it: an lz4 bound of 8 MiB per thread, where
/// compressible data fills a fraction.
fn grow(buf: &mut Vec<u8>, len: usize) {
    if buf.capacity() >= len {
        // Room it has (after a codec that cleared and refilled it): no new allocation.
        if buf.len() < len {
            buf.resize(len, 0);
        }
    } else {
        *buf = Vec::new();
        *buf = vec![0; len];
    }
}

/// Writes a frame header for `orig_len` bytes compressed with codec `id` at level `lvl` at the
/// start of `buf` (at least [`FRAME_HEADER_LEN`] bytes).
fn header_at(buf: &mut [u8], id: u8, lvl: u8, orig_len: usize) {
    buf[0] = id;
    buf[1] = lvl;
    // Callers pass data below 4 GiB (checked in `compress_frame_in`).
    buf[2..FRAME_HEADER_LEN].copy_from_slice(&(orig_len as u32).to_le_bytes());
}

/// Runs `codec_fn` on `buf` past a frame header, with room for `bound` bytes; writes the header and
/// returns the frame's length if the output is smaller than the input.
fn compress_in(
    buf: &mut Vec<u8>,
    orig_len: usize,
    id: u8,
    lvl: u8,
    bound: usize,
    codec_fn: impl FnOnce(&mut [u8]) -> Option<usize>,
) -> Option<usize> {
    grow(buf, FRAME_HEADER_LEN + bound);
    match codec_fn(&mut buf[FRAME_HEADER_LEN..FRAME_HEADER_LEN + bound]) {
        Some(n) if n < orig_len => {
            header_at(buf, id, lvl, orig_len);
            Some(FRAME_HEADER_LEN + n)
        }
        _ => None,
    }
}

/// Appends the compressed frame of `data` to `out`; false (and `out` unchanged) where the data
/// is to be stored as is.
fn compress_codec_into(codec: Codec, data: &[u8], out: &mut Vec<u8>) -> Result<bool, Error> {
    if data.len() > u32::MAX as usize {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "cannot compress 4 GiB or more at once",
        ));
    }
    let start = out.len();
    match codec {
        Codec::Auto(target) => {
            // borg's heuristic: lz4 tells whether the data compresses at all.
            let Some(lz4) = try_codec_into(Codec::Lz4, data, out) else {
                return Ok(false);
            };
            let ratio = lz4 as f64 / (data.len().max(1) as f64);
            if ratio < 0.97 && target != AutoTarget::Lz4 {
                // The stronger codec's frame goes after lz4's; the smaller one stays.
                match try_codec_into(target.into(), data, out) {
                    Some(exp) if (exp as f64) < 0.99 * lz4 as f64 => {
                        out.drain(start..start + lz4);
                    }
                    _ => out.truncate(start + lz4),
                }
            }
            Ok(true)
        }
        Codec::Obfuscate(spec, wrapped) => {
            // Header, the inner frame's length (filled in below), the inner frame, zeros.
            push_header(out, ID_OBFUSCATE, spec_byte(spec), data.len());
            let len_at = out.len();
            out.extend_from_slice(&[0; 4]);
            compress_frame_into(wrapped.into(), data, out)?;
            let inner = out.len() - len_at - 4;
            let len = u32::try_from(inner).map_err(|_| {
                Error::new(
                    ErrorKind::TooLarge,
                    "cannot obfuscate 4 GiB or more at once",
                )
            })?;
            out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            let pad = padding(spec, out.len() - start, random_unit()?);
            out.resize(out.len() + pad, 0);
            Ok(true)
        }
        c => Ok(try_codec_into(c, data, out).is_some()),
    }
}

/// The codec name and level recorded in a frame, for `info` and `check`.
pub fn frame_codec(frame: &[u8]) -> Result<(&'static str, u8), Error> {
    let name = match frame.first() {
        Some(&ID_NONE) => "none",
        Some(&ID_LZ4) => "lz4",
        Some(&ID_ZSTD) => "zstd",
        Some(&ID_ZLIB) => "zlib",
        Some(&ID_LZMA) => "lzma",
        Some(&ID_OBFUSCATE) => "obfuscate",
        Some(b) => return Err(Error::corrupt(format!("unknown codec byte {b}"))),
        None => return Err(Error::corrupt("empty compression frame")),
    };
    Ok((name, frame.get(1).copied().unwrap_or(0)))
}

/// Decompresses a frame made by [`compress`], refusing to produce more than `limit` bytes.
pub fn decompress(frame: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; frame_len(frame, limit)?];
    decompress_to(frame, &mut out)?;
    Ok(out)
}

/// The number of bytes a frame says it decompresses to, refused above `limit`.
pub fn frame_len(frame: &[u8], limit: usize) -> Result<usize, Error> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(Error::corrupt("compression frame is truncated"));
    }
    frame_codec(frame)?;
    let orig_len = u32::from_le_bytes([frame[2], frame[3], frame[4], frame[5]]) as usize;
    if orig_len > limit {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("frame declares {orig_len} bytes, more than the limit of {limit}"),
        ));
    }
    Ok(orig_len)
}

/// The data of a frame stored as is (no codec), borrowed from it; `None` for a compressed frame.
/// Checked as [`decompress`] checks it: its length against the header and `limit`.
pub fn stored_data(frame: &[u8], limit: usize) -> Result<Option<&[u8]>, Error> {
    let orig_len = frame_len(frame, limit)?;
    if frame[0] != ID_NONE {
        return Ok(None);
    }
    let payload = &frame[FRAME_HEADER_LEN..];
    if payload.len() != orig_len {
        return Err(Error::corrupt(
            "none data does not decompress: stored length differs from the header",
        ));
    }
    Ok(Some(payload))
}

/// The inner frame of an obfuscated frame's `payload`: its u32 LE length, then that many bytes
/// (the zeros after them are padding); `None` where the payload is shorter than that.
fn obfuscated_frame(payload: &[u8]) -> Option<&[u8]> {
    let len = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    payload.get(4..4usize.checked_add(len)?)
}

/// Decompresses `frame` into `out`, which must be exactly as long as the frame says
/// ([`frame_len`]); a caller that reuses `out` allocates nothing per frame. Every byte of `out` is
/// written, or an error returned.
pub fn decompress_to(frame: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let (name, _) = frame_codec(frame)?;
    let orig_len = frame_len(frame, usize::MAX)?;
    if out.len() != orig_len {
        return Err(Error::invalid(format!(
            "an output of {} bytes for a frame of {orig_len}",
            out.len()
        )));
    }
    let payload = &frame[FRAME_HEADER_LEN..];
    let bad = |why: String| Error::corrupt(format!("{name} data does not decompress: {why}"));
    let n = match frame[0] {
        ID_NONE => {
            if payload.len() != orig_len {
                return Err(bad("stored length differs from the header".into()));
            }
            out.copy_from_slice(payload);
            orig_len
        }
        ID_LZ4 => lz4_into(payload, out).map_err(|e| bad(e.to_string()))?,
        ID_ZSTD => zstd_into(payload, out).map_err(|e| bad(e.to_string()))?,
        ID_OBFUSCATE => {
            let inner = obfuscated_frame(payload).ok_or_else(|| bad("truncated".into()))?;
            if inner.first() == Some(&ID_OBFUSCATE) {
                return Err(bad("obfuscate inside obfuscate".into()));
            }
            if frame_len(inner, usize::MAX)? != orig_len {
                return Err(bad(
                    "the inner frame's length differs from the header".into()
                ));
            }
            decompress_to(inner, out)?;
            orig_len
        }
        ID_ZLIB => {
            let mut d = flate2::Decompress::new(true);
            let status = d
                .decompress(payload, out, flate2::FlushDecompress::Finish)
                .map_err(|e| bad(e.to_string()))?;
            if status != flate2::Status::StreamEnd || d.total_in() != payload.len() as u64 {
                return Err(bad("stream does not end where the frame does".into()));
            }
            d.total_out() as usize
        }
        _ => {
            let mut s = liblzma::stream::Stream::new_stream_decoder(256 << 20, 0)
                .map_err(|e| bad(e.to_string()))?;
            let status = s
                .process(payload, out, liblzma::stream::Action::Finish)
                .map_err(|e| bad(e.to_string()))?;
            if status != liblzma::stream::Status::StreamEnd || s.total_in() != payload.len() as u64
            {
                return Err(bad("stream does not end where the frame does".into()));
            }
            s.total_out() as usize
        }
    };
    if n != orig_len {
        return Err(bad(format!("yields {n} bytes, header says {orig_len}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
