//! The reader thread and the blocks of lines handed to the analyzers.

use super::analyzer::{Analyzer, Outcome, PARALLEL_MIN_LINES};
use std::io::Read;

/// Read `reader` as blocks of about `size` bytes that end at a line break (the last block
/// ends where the file does) and send them in order. Buffers sent back on `recycled` are
/// reused, so a long file does not fault in fresh pages block after block. Stops early if the
/// receiver goes away.
pub(super) fn read_blocks(
    mut reader: impl Read,
    size: usize,
    sender: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    recycled: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = recycled.try_recv().unwrap_or_default();
        block.clear();
        // Room for the whole block at once, so filling it never moves it.
        block.reserve(size + carry.len());
        block.extend_from_slice(&carry);
        carry.clear();
        // `take` + `read_to_end` fills without zeroing the buffer first.
        let read = match (&mut reader).take(size as u64).read_to_end(&mut block) {
            Ok(read) => read,
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        let at_eof = read < size;
        if !at_eof {
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
        if sender.send(Ok(block)).is_err() || at_eof {
            return;
        }
    }
}

/// The lines of a block, without their `\n` (a final line may lack one). memchr finds the
/// newlines with SIMD: this runs on one thread for every byte, so it must be fast.
pub(super) fn split_lines(block: &[u8]) -> Vec<&[u8]> {
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

/// The lines of a block already known to be UTF-8, as text: the JSON parser then need not
/// check each string's bytes again (a block is checked once, at memory speed).
pub(super) fn split_text_lines(block: &str) -> Vec<Line<'_>> {
    split_lines(block.as_bytes())
        .into_iter()
        .map(|bytes| {
            let start = bytes.as_ptr() as usize - block.as_ptr() as usize;
            // Lines end at '\n', an ASCII byte, so these are char boundaries.
            Line::Text(&block[start..start + bytes.len()])
        })
        .collect()
}

/// One line of a block: text when the block is valid UTF-8, else raw bytes.
#[derive(Clone, Copy)]
pub(super) enum Line<'b> {
    Text(&'b str),
    Bytes(&'b [u8]),
}

/// Check a block's lines, split into one contiguous run per analyzer, and return the outcomes
/// as runs in line order. They own what they hold, so the block can be reused at once.
pub(super) fn check_block(
    analyzers: &mut [Analyzer<'_>],
    lines: &[Line<'_>],
    first_line: usize,
    keep: bool,
) -> Vec<Vec<Outcome<'static>>> {
    let run = |analyzer: &mut Analyzer<'_>, lines: &[Line<'_>], first: usize| {
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| analyzer.check_line(*line, first + i, keep).into_owned())
            .collect::<Vec<_>>()
    };
    if analyzers.len() == 1 || lines.len() < PARALLEL_MIN_LINES {
        return vec![run(&mut analyzers[0], lines, first_line)];
    }
    let chunk = lines.len().div_ceil(analyzers.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = analyzers
            .iter_mut()
            .zip(lines.chunks(chunk))
            .enumerate()
            .map(|(k, (analyzer, part))| {
                scope.spawn(move || run(analyzer, part, first_line + k * chunk))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a validation thread panicked"))
            .collect()
    })
}
