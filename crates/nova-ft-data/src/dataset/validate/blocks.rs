//! The reader thread and the blocks of lines handed to the analyzers.

use super::analyzer::{Analyzer, Outcome, PARALLEL_MIN_LINES};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Pieces a block is cut into per thread.
const PIECES_PER_THREAD: usize = 4;

/// Block buffers kept between files and calls. A fresh buffer costs the kernel a page fault
/// and a zeroed page per 4 KiB on its first fill, which measured a fifth of a validation's
/// time; reused buffers are already mapped. At most `POOL_CAP` are kept (16 MiB).
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const POOL_CAP: usize = 4;

/// A buffer from the pool, or a new one.
fn pooled_buffer() -> Vec<u8> {
    POOL.lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default()
}

/// Give a block's buffer back for the next block, file or call (one grown far past a block by
/// a very long line is dropped instead).
pub(super) fn return_buffer(buffer: Vec<u8>, size: usize) {
    if buffer.capacity() == 0 || buffer.capacity() > 2 * size {
        return;
    }
    if let Ok(mut pool) = POOL.lock() {
        if pool.len() < POOL_CAP {
            pool.push(buffer);
        }
    }
}

/// One block of whole lines of a source, as the reader sends it.
pub(super) struct Block {
    /// Index of the source it comes from.
    pub(super) source: usize,
    pub(super) bytes: Vec<u8>,
    /// The source's last block (it may be empty).
    pub(super) last: bool,
}

/// A read error, with the index of the source it happened in.
pub(super) type ReadError = (usize, std::io::Error);

/// Read the sources one after another as blocks of about `size` bytes that end at a line
/// break (a source's last block ends where it does) and send them in order. One reader for
/// every source keeps the analyzers busy across file boundaries. Buffers sent back on
/// `recycled` are reused, and when reading ends they go to the pool. Stops early on an error
/// or if the receiver goes away.
pub(super) fn read_blocks<R: Read>(
    sources: Vec<R>,
    size: usize,
    sender: std::sync::mpsc::SyncSender<Result<Block, ReadError>>,
    recycled: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    for (source, reader) in sources.into_iter().enumerate() {
        if !fill_blocks(reader, source, size, &sender, &recycled) {
            break;
        }
    }
    for buffer in recycled.try_iter() {
        return_buffer(buffer, size);
    }
}

/// Send one source's blocks; false when reading must stop.
fn fill_blocks(
    mut reader: impl Read,
    source: usize,
    size: usize,
    sender: &std::sync::mpsc::SyncSender<Result<Block, ReadError>>,
    recycled: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> bool {
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = recycled.try_recv().unwrap_or_else(|_| pooled_buffer());
        block.clear();
        // Room for the whole block at once, so filling it never moves it.
        block.reserve(size + carry.len());
        block.extend_from_slice(&carry);
        carry.clear();
        // `take` + `read_to_end` fills without zeroing the buffer first.
        let read = match (&mut reader).take(size as u64).read_to_end(&mut block) {
            Ok(read) => read,
            Err(e) => {
                let _ = sender.send(Err((source, e)));
                return false;
            }
        };
        let last = read < size;
        if !last {
            match memchr::memrchr(b'\n', &block) {
                Some(end) => {
                    carry.extend_from_slice(&block[end + 1..]);
                    block.truncate(end + 1);
                }
                None => {
                    // One line longer than a block: keep reading until it ends.
                    carry = block;
                    continue;
                }
            }
        }
        let sent = sender.send(Ok(Block {
            source,
            bytes: block,
            last,
        }));
        if sent.is_err() {
            return false;
        }
        if last {
            return true;
        }
    }
}

/// The lines of a block, without their `\n` (a final line may lack one). memchr finds the
/// newlines with SIMD: this runs on one thread for every byte, so it must be fast.
fn split_lines(block: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::with_capacity(block.len() / 256 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        lines.push(&block[start..end]);
        start = end + 1;
    }
    if start < block.len() {
        lines.push(&block[start..]);
    }
    lines
}

/// A piece's lines as text when the piece is valid UTF-8 (checked once over its whole span,
/// so the JSON parser need not check each string again), else as raw bytes. Pieces are
/// checked on the analyzers' threads, so this pass runs in parallel too.
fn piece_lines<'b>(block: &'b [u8], piece: &[&'b [u8]]) -> Vec<Line<'b>> {
    let (Some(first), Some(last)) = (piece.first(), piece.last()) else {
        return Vec::new();
    };
    // The lines are consecutive slices of the block: the piece spans from the first one's
    // start to the last one's end.
    let offset = |line: &[u8]| line.as_ptr() as usize - block.as_ptr() as usize;
    let start = offset(first);
    let span = &block[start..offset(last) + last.len()];
    match std::str::from_utf8(span) {
        Ok(text) => piece
            .iter()
            .map(|bytes| {
                let at = offset(bytes) - start;
                // Lines end at '\n', an ASCII byte, so these are char boundaries.
                Line::Text(&text[at..at + bytes.len()])
            })
            .collect(),
        Err(_) => piece.iter().copied().map(Line::Bytes).collect(),
    }
}

/// One line of a block: text when its piece is valid UTF-8, else raw bytes.
#[derive(Clone, Copy)]
pub(super) enum Line<'b> {
    Text(&'b str),
    Bytes(&'b [u8]),
}

/// Check a block's lines and return the outcomes as runs in line order. They own what they
/// hold, so the block can be reused at once. The block is cut into more pieces than threads,
/// taken in turn, so a thread slowed down (by the merging thread on a small machine, or by
/// another process) does not hold up the others.
pub(super) fn check_block(
    analyzers: &mut [Analyzer<'_>],
    block: &[u8],
    first_line: usize,
    keep: bool,
) -> Vec<Vec<Outcome<'static>>> {
    let lines = split_lines(block);
    let run = |analyzer: &mut Analyzer<'_>, piece: &[&[u8]], first: usize| {
        piece_lines(block, piece)
            .into_iter()
            .enumerate()
            .map(|(i, line)| {
                let outcome = analyzer.check_line(line, first + i, keep);
                analyzer.owned(outcome)
            })
            .collect::<Vec<_>>()
    };
    if analyzers.len() == 1 || lines.len() < PARALLEL_MIN_LINES {
        return vec![run(&mut analyzers[0], &lines, first_line)];
    }
    let chunk = lines.len().div_ceil(analyzers.len() * PIECES_PER_THREAD);
    let pieces: Vec<&[&[u8]]> = lines.chunks(chunk).collect();
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<Outcome<'static>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = analyzers
            .iter_mut()
            .map(|analyzer| {
                let (pieces, next) = (&pieces, &next);
                // Each thread takes pieces in increasing line order, which keeps its cache of
                // the last system prompt pointing backwards (see `RecordFacts::of`).
                scope.spawn(move || {
                    let mut checked = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(piece) = pieces.get(k) else {
                            return checked;
                        };
                        checked.push((k, run(analyzer, piece, first_line + k * chunk)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a validation thread panicked"))
            .collect()
    });
    done.sort_unstable_by_key(|(k, _)| *k);
    done.into_iter().map(|(_, outcomes)| outcomes).collect()
}
