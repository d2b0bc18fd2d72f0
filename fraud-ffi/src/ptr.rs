//! Checked conversions from the raw pointers C passes in.
//!
//! Each helper rejects NULL with `FRAUD_NULL_PARAMETER` naming the parameter,
//! so an export's body reads as a list of its parameters and never touches a
//! raw pointer itself. What cannot be checked (that a non-NULL pointer points
//! to live memory of the stated length) is the caller's half of the contract,
//! written in each export's `# Safety` section.

use std::ffi::{c_char, CStr};
use std::mem::size_of;

use crate::status::{Failure, FraudStatus};

/// Fails when `ptr` is NULL.
pub(crate) fn non_null<T>(ptr: *const T, name: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(null(name));
    }
    Ok(())
}

/// Fails when `ptr` is NULL or not aligned for `T` (reading or writing
/// through a misaligned pointer is undefined behaviour).
fn non_null_aligned<T>(ptr: *const T, name: &str) -> Result<(), Failure> {
    non_null(ptr, name)?;
    if !ptr.is_aligned() {
        return Err(Failure::argument(format!(
            "`{name}` is not aligned for its type"
        )));
    }
    Ok(())
}

fn null(name: &str) -> Failure {
    Failure::new(
        FraudStatus::FRAUD_NULL_PARAMETER,
        format!("`{name}` is NULL"),
    )
}

/// `&*ptr`, or a failure when it is NULL.
///
/// # Safety
/// A non-NULL `ptr` must point to a live, initialised `T` that nothing
/// mutates for `'a`.
pub(crate) unsafe fn reference<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees a non-NULL pointer is valid for 'a;
    // `as_ref` turns NULL into None.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// A NUL-terminated C string, or a failure when it is NULL.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string that stays
/// unchanged for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a CStr, Failure> {
    non_null(ptr, name)?;
    // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string
    // that lives for 'a.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// A C string as UTF-8 text.
///
/// # Safety
/// As for [`c_str`].
pub(crate) unsafe fn utf8<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded to the caller.
    let text = unsafe { c_str(ptr, name) }?;
    text.to_str()
        .map_err(|e| Failure::argument(format!("`{name}` is not valid UTF-8: {e}")))
}

/// Checks what `slice::from_raw_parts` needs beyond validity of the memory:
/// non-NULL, aligned, and no more than `isize::MAX` bytes.
fn check_buffer<T>(ptr: *const T, len: usize, name: &str) -> Result<(), Failure> {
    non_null_aligned(ptr, name)?;
    if len
        .checked_mul(size_of::<T>())
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(Failure::argument(format!(
            "`{name}` length {len} is too large"
        )));
    }
    Ok(())
}

/// A `(ptr, len)` buffer as a slice. NULL is rejected even when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` initialised `T`s that nothing
/// mutates for `'a`.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    name: &str,
) -> Result<&'a [T], Failure> {
    check_buffer(ptr, len, name)?;
    // SAFETY: non-NULL, aligned and not too long (checked above); the
    // caller guarantees `len` initialised elements, unaliased for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An out-parameter, checked for NULL now and written later (only on
/// success, by [`Out::write`]).
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `ptr` for NULL and alignment.
    pub(crate) fn new(ptr: *mut T, name: &str) -> Result<Self, Failure> {
        non_null_aligned(ptr.cast_const(), name)?;
        Ok(Out(ptr))
    }

    /// Stores `value` without reading or dropping what was there (the
    /// caller's memory may be uninitialised).
    ///
    /// # Safety
    /// The pointer given to [`Out::new`] must be valid for a write of `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`); the caller guarantees it is
        // valid for writes. `write` neither reads nor drops the old value.
        unsafe { self.0.write(value) }
    }
}

/// A caller-owned output buffer, checked now and filled later (only on
/// success, by [`OutBuffer::fill`]). It is never turned into a Rust slice, so
/// the caller's memory may be uninitialised and may even overlap the input.
pub(crate) struct OutBuffer<T> {
    ptr: *mut T,
    len: usize,
}

impl<T: Copy> OutBuffer<T> {
    /// Checks `ptr` for NULL, alignment and size.
    pub(crate) fn new(ptr: *mut T, len: usize, name: &str) -> Result<Self, Failure> {
        check_buffer(ptr.cast_const(), len, name)?;
        Ok(OutBuffer { ptr, len })
    }

    /// Copies `values` to the start of the buffer.
    ///
    /// # Safety
    /// The pointer given to [`OutBuffer::new`] must be valid for writes of
    /// `len` elements, and no other thread may access them meanwhile.
    pub(crate) unsafe fn fill(self, values: &[T]) -> Result<(), Failure> {
        if values.len() > self.len {
            return Err(Failure::argument(format!(
                "{} values for a buffer of {}",
                values.len(),
                self.len
            )));
        }
        // SAFETY: the destination holds `len >= values.len()` writable
        // elements (caller contract) and cannot overlap `values`, which is
        // Rust-owned memory.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr, values.len()) };
        Ok(())
    }
}
