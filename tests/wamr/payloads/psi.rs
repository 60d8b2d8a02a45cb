//! Teaclave's Rust private set intersection WebAssembly example, written
//! again from its description (teaclave-functions.md §5.2): arguments
//! input1_fid, input2_fid, output1_fid, output2_fid (sorted, so argv[1],
//! [3], [5], [7] are the four file ids); reads both inputs as lines,
//! writes the common lines followed by "done\n" to both outputs and returns
//! how many lines they have in common. Teaclave used a HashSet; a BTreeSet
//! gives the same set in a fixed (sorted) order.
use std::collections::BTreeSet;
use std::ffi::CStr;
use std::os::raw::c_char;

#[link(wasm_import_module = "env")]
extern "C" {
    fn teaclave_open_input(fid: *const c_char) -> i32;
    fn teaclave_create_output(fid: *const c_char) -> i32;
    fn teaclave_read_file(fd: i32, buf: *mut u8, size: i32) -> i32;
    fn teaclave_write_file(fd: i32, buf: *const u8, size: i32) -> i32;
    fn teaclave_close_file(fd: i32) -> i32;
}

fn read_all(fid: *const c_char) -> Option<Vec<u8>> {
    let fd = unsafe { teaclave_open_input(fid) };
    if fd < 0 {
        return None;
    }
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = unsafe { teaclave_read_file(fd, chunk.as_mut_ptr(), chunk.len() as i32) };
        if n < 0 {
            return None;
        }
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n as usize]);
    }
    unsafe { teaclave_close_file(fd) };
    Some(data)
}

fn write_all(fid: *const c_char, data: &[u8]) -> bool {
    let fd = unsafe { teaclave_create_output(fid) };
    if fd < 0 {
        return false;
    }
    let n = unsafe { teaclave_write_file(fd, data.as_ptr(), data.len() as i32) };
    unsafe { teaclave_close_file(fd) == 0 && n == data.len() as i32 }
}

fn lines(data: &[u8]) -> BTreeSet<Vec<u8>> {
    data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| l.to_vec()).collect()
}

#[no_mangle]
pub extern "C" fn entrypoint(argc: i32, argv: *const *const c_char) -> i32 {
    if argc != 8 {
        return -1;
    }
    let arg = |i: usize| unsafe { *argv.add(i) };
    let (a, b) = match (read_all(arg(1)), read_all(arg(3))) {
        (Some(a), Some(b)) => (lines(&a), lines(&b)),
        _ => return -2,
    };
    let common: Vec<&Vec<u8>> = a.intersection(&b).collect();
    let mut out = Vec::new();
    for line in &common {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"done\n");
    if !write_all(arg(5), &out) || !write_all(arg(7), &out) {
        return -3;
    }
    // Keep the file ids' CStr type honest: they are NUL-terminated.
    let _ = unsafe { CStr::from_ptr(arg(5)) };
    common.len() as i32
}
