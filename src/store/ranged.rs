//! Index files read in ranges, for a process that searches once and exits.
//!
//! Tantivy maps every file of every segment and reads it through the mapping, so each page a
//! search touches first costs a page fault. On the bench machine (a virtual machine) a fault
//! on a mapped file cost 10–20 µs with the unmapping at exit (about 10 µs mapping one page,
//! 20 µs the 16 the kernel maps around a fault; measured by a program touching pages of the
//! bench index's files), while `pread` of 4 KB cost about 1.5 µs. A one-word search on the
//! 74 MB bench index took about 190 faults on index files, most for a footer, a header or a
//! stored block of a few bytes to 8 KB. A [`RangedFile`] reads such ranges with `pread` and maps the file only for a larger
//! one (a term dictionary, a column, a list of norms, read whole and then touched here and
//! there, where a copy would cost more than the faults).
//!
//! A process that keeps searching (`serve`, `mcp`) reads through Tantivy's mappings: after
//! its first searches their pages are mapped, and a `pread` would cost a system call each
//! time. [`read_in_ranges`] chooses, for the whole process, before its index is opened.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tantivy::HasLen;
use tantivy::directory::error::OpenReadError;
use tantivy::directory::{FileHandle, OwnedBytes};

/// Ranges up to this long are read with `pread`: a stored block (8 KB compressed, see
/// `store::folder::create`) and the headers and footers. With 4 KB the 74 MB bench searches
/// took 10.51 ms (median over its queries, whole process), with 8 KB 10.30 ms, 16 KB 10.58
/// ms, against 11.96 ms mapped (one run, alternated): longer copies fault fresh heap pages.
const READ_MAX: usize = 8 * 1024;

/// Whether index files opened from now on are [`RangedFile`]s.
static IN_RANGES: AtomicBool = AtomicBool::new(false);

/// The lowest file descriptor a [`RangedFile`] may not keep: half the process's limit on
/// open files (512 of the default 1,024: the files of 70 segments). The system hands out the
/// lowest free descriptor, so a descriptor this high means half the limit is in use (by
/// this process, or inherited): the file is then mapped and its descriptor closed, as
/// Tantivy does, and the other half stays free for the files opened for a moment.
fn descriptor_bound() -> u64 {
    static BOUND: OnceLock<u64> = OnceLock::new();
    *BOUND.get_or_init(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        limit.map_or(u64::MAX, |n| n / 2)
    })
}

/// Reads the index files opened from now on in ranges (`true`, for a process that searches
/// once), or through Tantivy's mappings (`false`, the default).
pub fn read_in_ranges(on: bool) {
    IN_RANGES.store(on, Ordering::Relaxed);
}

/// Whether index files are read in ranges (see [`read_in_ranges`]).
pub fn in_ranges() -> bool {
    IN_RANGES.load(Ordering::Relaxed)
}

/// A segment file read with `pread` up to [`READ_MAX`] bytes at a time, and mapped, once,
/// for longer ranges.
#[derive(Debug)]
pub struct RangedFile {
    file: File,
    len: usize,
    /// The whole file mapped, at the first long read (`None` if it could not be).
    mapped: OnceLock<Option<OwnedBytes>>,
}

impl RangedFile {
    /// Opens `full` (named `path` in the directory, for errors): as a [`RangedFile`], or
    /// mapped whole when its descriptor is at or past [`descriptor_bound`].
    pub fn open(full: &Path, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let file = File::open(full).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::wrap_io_error(e, path.to_path_buf()),
        })?;
        let len = file
            .metadata()
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?
            .len();
        let len = usize::try_from(len).map_err(|_| {
            let e = io::Error::new(io::ErrorKind::InvalidData, "file too large to read");
            OpenReadError::wrap_io_error(e, path.to_path_buf())
        })?;
        let file = RangedFile {
            file,
            len,
            mapped: OnceLock::new(),
        };
        if (file.file.as_raw_fd() as u64) < descriptor_bound() {
            return Ok(Arc::new(file));
        }
        // Mapped from this descriptor, which closes when `file` goes: no other is needed.
        match len {
            0 => Ok(Arc::new(OwnedBytes::empty())),
            _ => match file.map() {
                Some(mapped) => Ok(Arc::new(mapped)),
                None => Ok(Arc::new(file)),
            },
        }
    }

    fn map(&self) -> Option<OwnedBytes> {
        // SAFETY: segment files are written once and never changed in place (a commit writes
        // new ones); a file removed by another process's cleanup stays readable through
        // this mapping. This is what Tantivy's own directory relies on.
        let map = unsafe { memmap2::Mmap::map(&self.file) }.ok()?;
        Some(OwnedBytes::new(map))
    }
}

impl HasLen for RangedFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for RangedFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.start > range.end || range.end > self.len {
            // Tantivy's mapped files panic here; a damaged index is an error, not a crash.
            let e = format!("range {range:?} of a file of {} bytes", self.len);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
        }
        if range.is_empty() {
            return Ok(OwnedBytes::empty());
        }
        if range.len() <= READ_MAX {
            let mut bytes = vec![0; range.len()];
            self.file.read_exact_at(&mut bytes, range.start as u64)?;
            return Ok(OwnedBytes::new(bytes));
        }
        match self.mapped.get_or_init(|| self.map()) {
            // Shorter than when opened: changed since (segment files never are by zhsearch).
            Some(mapped) if range.end > mapped.len() => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file of {} bytes now {} bytes long", self.len, mapped.len()),
            )),
            Some(mapped) => Ok(mapped.slice(range)),
            None => {
                // Not mappable (an unusual file system): read the range instead.
                let mut bytes = vec![0; range.len()];
                self.file.read_exact_at(&mut bytes, range.start as u64)?;
                Ok(OwnedBytes::new(bytes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> (std::path::PathBuf, Arc<dyn FileHandle>) {
        let dir = std::env::temp_dir().join(format!("zhsearch-ranged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let f = RangedFile::open(&path, Path::new(name)).unwrap();
        (path, f)
    }

    #[test]
    fn short_and_long_ranges_read_the_same_bytes() {
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (path, f) = file("a.idx", &bytes);
        assert_eq!(f.len(), bytes.len());
        for r in [
            0..1,
            5..100,
            8000..8000 + READ_MAX,
            0..40_000,
            39_990..40_000,
            3..30_000,
        ] {
            assert_eq!(f.read_bytes(r.clone()).unwrap().as_slice(), &bytes[r]);
        }
        assert!(f.read_bytes(7..7).unwrap().is_empty());
        // Past the end: an error, not a panic.
        assert!(f.read_bytes(39_000..40_001).is_err());
        assert!(f.read_bytes(50_000..50_010).is_err());
        // Removed after opening: still readable, as a mapped file is.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.read_bytes(10..20).unwrap().as_slice(), &bytes[10..20]);
        assert_eq!(
            f.read_bytes(0..20_000).unwrap().as_slice(),
            &bytes[..20_000]
        );
    }

    #[test]
    fn a_missing_file_is_reported_as_missing() {
        let dir = std::env::temp_dir();
        let e = RangedFile::open(&dir.join("zhsearch-no-such-file"), Path::new("x.idx"));
        assert!(matches!(e, Err(OpenReadError::FileDoesNotExist(_))));
    }

    #[test]
    fn a_file_cut_short_after_opening_is_an_error_not_a_panic() {
        let bytes = vec![7u8; 40_000];
        let (path, f) = file("cut.term", &bytes);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(20_000)
            .unwrap();
        assert!(f.read_bytes(0..30_000).is_err());
        assert!(f.read_bytes(25_000..25_100).is_err());
        assert_eq!(f.read_bytes(0..15_000).unwrap().len(), 15_000);
    }

    #[test]
    fn an_empty_file_reads_as_empty() {
        let (_, f) = file("empty.del", b"");
        assert_eq!(f.len(), 0);
        assert!(f.read_bytes(0..0).unwrap().is_empty());
        assert!(f.read_bytes(0..1).is_err());
    }
}
