//! The reader thread and the blocks of lines handed to the analyzers.

use super::analyzer::{Analyzer, Outcome, PARALLEL_MIN_LINES};
use std::io::Read;

/// Read `reader` as blocks of about `size` bytes that end at a line break (the last block
/// ends where the file does) and send them in order. Stops early if the receiver goes away.
pub(super) fn read_blocks(
    mut reader: impl Read,
    size: usize,
    sender: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
) {
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = std::mem::take(&mut carry);
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
                Some(end) => carry = block.split_off(end + 1),
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

/// Check a block's lines, split into one contiguous run per analyzer, and return the outcomes
/// in line order.
pub(super) fn check_block<'b>(
    analyzers: &mut [Analyzer<'_>],
    lines: &[&'b [u8]],
    first_line: usize,
    keep: bool,
) -> Vec<Outcome<'b>> {
    let run = |analyzer: &mut Analyzer<'_>, lines: &[&'b [u8]], first: usize| -> Vec<Outcome<'b>> {
        lines
            .iter()
            .enumerate()
            .map(|(i, bytes)| analyzer.check_line(bytes, first + i, keep))
            .collect()
    };
    if analyzers.len() == 1 || lines.len() < PARALLEL_MIN_LINES {
        return run(&mut analyzers[0], lines, first_line);
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
            .flat_map(|h| h.join().expect("a validation thread panicked"))
            .collect()
    })
}
