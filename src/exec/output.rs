//! One output stream of a command: copied to a file up to a cap, counted past it, and its last
//! bytes kept in memory. Memory stays bounded whatever the command prints.

use std::collections::VecDeque;
use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// What was seen of one stream.
#[derive(Debug, Default)]
pub struct StreamResult {
    pub total_bytes: u64,
    pub stored_bytes: u64,
    pub tail: Vec<u8>,
}

/// Copies `reader` into `path` (at most `cap` bytes) and keeps its last `tail_cap` bytes.
pub async fn drain<R: AsyncRead + Unpin>(
    mut reader: R,
    path: &Path,
    cap: u64,
    tail_cap: usize,
) -> std::io::Result<StreamResult> {
    // 0644 like every bundle file (`bundle::write_atomic`), whatever the umask adds.
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail: VecDeque<u8> = VecDeque::with_capacity(tail_cap.min(1 << 20));
    let mut res = StreamResult::default();
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        res.total_bytes += n as u64;
        if res.stored_bytes < cap {
            let room = usize::try_from(cap - res.stored_bytes).unwrap_or(usize::MAX);
            let take = room.min(n);
            file.write_all(&chunk[..take]).await?;
            res.stored_bytes += take as u64;
        }
        if tail_cap > 0 {
            let keep = if n > tail_cap {
                &chunk[n - tail_cap..]
            } else {
                chunk
            };
            let overflow = (tail.len() + keep.len()).saturating_sub(tail_cap);
            tail.drain(..overflow);
            tail.extend(keep);
        }
    }
    if res.total_bytes > res.stored_bytes {
        let note = format!(
            "\n[pp: output truncated: {} of {} bytes stored]\n",
            res.stored_bytes, res.total_bytes
        );
        file.write_all(note.as_bytes()).await?;
    }
    file.flush().await?;
    res.tail = tail.into();
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_file_and_keeps_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let res = drain(&data[..], &path, 1000, 100).await.unwrap();
        assert_eq!(res.total_bytes, 10_000);
        assert_eq!(res.stored_bytes, 1000);
        assert_eq!(res.tail, &data[9_900..]);
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(&stored[..1000], &data[..1000]);
        assert!(String::from_utf8_lossy(&stored[1000..]).contains("truncated"));
    }

    #[tokio::test]
    async fn small_output_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let res = drain(&b"hello\n"[..], &path, 1000, 100).await.unwrap();
        assert_eq!(res.tail, b"hello\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"hello\n");
    }
}
