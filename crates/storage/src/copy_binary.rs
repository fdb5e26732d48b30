//! Decoding PostgreSQL's binary `COPY … TO STDOUT (FORMAT binary)` stream:
//! a snapshot read without building a driver row per table row (the typed
//! status index load reads some 19 M rows this way).
//!
//! The format (PostgreSQL documentation, "COPY", "Binary Format"): an
//! 11-byte signature, a flags word and a header extension; then per tuple a
//! 16-bit field count (-1 ends the data) and per field a 32-bit length (-1
//! for NULL) followed by that many bytes in the type's binary send format.

use thiserror::Error;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The stream is not what was asked for.
#[derive(Debug, Error)]
#[error("binary COPY data: {0}")]
pub struct CopyFormatError(String);

impl From<CopyFormatError> for sqlx::Error {
    fn from(error: CopyFormatError) -> Self {
        sqlx::Error::Protocol(error.to_string())
    }
}

/// One tuple's fields, borrowed from the stream (`None` is NULL).
pub struct Tuple<'a> {
    fields: &'a [Option<&'a [u8]>],
}

impl<'a> Tuple<'a> {
    fn field(&self, at: usize) -> Result<Option<&'a [u8]>, CopyFormatError> {
        self.fields
            .get(at)
            .copied()
            .ok_or_else(|| CopyFormatError(format!("no field {at} in a tuple")))
    }

    /// An `int8` (`BIGINT`) field, or `None` when NULL.
    pub fn optional_i64(&self, at: usize) -> Result<Option<i64>, CopyFormatError> {
        match self.field(at)? {
            None => Ok(None),
            Some(bytes) => <[u8; 8]>::try_from(bytes)
                .map(|bytes| Some(i64::from_be_bytes(bytes)))
                .map_err(|_| CopyFormatError(format!("field {at} is not an int8"))),
        }
    }

    /// A non-NULL `int8` field.
    pub fn i64(&self, at: usize) -> Result<i64, CopyFormatError> {
        self.optional_i64(at)?
            .ok_or_else(|| CopyFormatError(format!("field {at} is NULL")))
    }

    /// A non-NULL `text` field.
    pub fn str(&self, at: usize) -> Result<&'a str, CopyFormatError> {
        let bytes = self
            .field(at)?
            .ok_or_else(|| CopyFormatError(format!("field {at} is NULL")))?;
        std::str::from_utf8(bytes).map_err(|_| CopyFormatError(format!("field {at} is not UTF-8")))
    }
}

/// Accumulates the stream's chunks (which need not align with tuples) and
/// hands each complete tuple to a callback.
#[derive(Default)]
pub struct CopyDecoder {
    pending: Vec<u8>,
    header_read: bool,
    ended: bool,
}

/// At most this many fields per tuple (the snapshot reads need seven).
const MAX_FIELDS: usize = 16;

impl CopyDecoder {
    /// Decodes what `chunk` completes; `each` sees every tuple in order.
    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&Tuple<'_>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<CopyFormatError>,
    {
        // Tuples usually arrive one per chunk: decode straight from the chunk
        // when nothing is pending, and keep only an incomplete remainder.
        if self.pending.is_empty() {
            let consumed = self.decode(chunk, &mut each)?;
            self.pending.extend_from_slice(&chunk[consumed..]);
            return Ok(());
        }
        self.pending.extend_from_slice(chunk);
        let pending = std::mem::take(&mut self.pending);
        let consumed = self.decode(&pending, &mut each);
        self.pending = pending;
        self.pending.drain(..consumed?);
        Ok(())
    }

    /// Whether the end-of-data marker was seen, with nothing left over.
    pub fn finish(&self) -> Result<(), CopyFormatError> {
        if self.ended && self.pending.is_empty() {
            Ok(())
        } else {
            Err(CopyFormatError(format!(
                "the data ended early ({} bytes of an incomplete tuple)",
                self.pending.len()
            )))
        }
    }

    /// Decodes complete tuples from the start of `bytes`; returns how many
    /// bytes they took.
    fn decode<E>(
        &mut self,
        bytes: &[u8],
        each: &mut impl FnMut(&Tuple<'_>) -> Result<(), E>,
    ) -> Result<usize, E>
    where
        E: From<CopyFormatError>,
    {
        let mut at = 0;
        if !self.header_read {
            let Some(length) = header_length(bytes)? else {
                return Ok(0);
            };
            at = length;
            self.header_read = true;
        }
        let mut fields: [Option<&[u8]>; MAX_FIELDS] = [None; MAX_FIELDS];
        while let Some(count) = read_i16(bytes, at) {
            if self.ended {
                return Err(CopyFormatError("data after the end marker".into()).into());
            }
            if count == -1 {
                self.ended = true;
                at += 2;
                continue;
            }
            let count = usize::try_from(count)
                .ok()
                .filter(|count| *count <= MAX_FIELDS)
                .ok_or_else(|| CopyFormatError(format!("a tuple of {count} fields")))?;
            let mut cursor = at + 2;
            let mut complete = true;
            for field in fields.iter_mut().take(count) {
                let Some(length) = read_i32(bytes, cursor) else {
                    complete = false;
                    break;
                };
                cursor += 4;
                if length < 0 {
                    *field = None;
                    continue;
                }
                let end = cursor + usize::try_from(length).unwrap_or(usize::MAX);
                match bytes.get(cursor..end) {
                    Some(value) => *field = Some(value),
                    None => {
                        complete = false;
                        break;
                    }
                }
                cursor = end;
            }
            if !complete {
                break;
            }
            each(&Tuple {
                fields: &fields[..count],
            })?;
            at = cursor;
        }
        Ok(at)
    }
}

/// The header's length once all of it is in `bytes`.
fn header_length(bytes: &[u8]) -> Result<Option<usize>, CopyFormatError> {
    let fixed = SIGNATURE.len() + 8;
    if bytes.len() < fixed {
        return Ok(None);
    }
    if !bytes.starts_with(SIGNATURE) {
        return Err(CopyFormatError("no binary COPY signature".into()));
    }
    let extension = read_i32(bytes, SIGNATURE.len() + 4)
        .and_then(|length| usize::try_from(length).ok())
        .ok_or_else(|| CopyFormatError("a bad header extension length".into()))?;
    let length = fixed + extension;
    Ok((bytes.len() >= length).then_some(length))
}

fn read_i16(bytes: &[u8], at: usize) -> Option<i16> {
    let bytes = bytes.get(at..at + 2)?;
    Some(i16::from_be_bytes([bytes[0], bytes[1]]))
}

fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let bytes: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of `(text, int8, int8 or NULL)` tuples, as PostgreSQL writes it.
    fn encoded(rows: &[(&str, i64, Option<i64>)]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0_i32.to_be_bytes());
        out.extend_from_slice(&0_i32.to_be_bytes());
        for (text, number, optional) in rows {
            out.extend_from_slice(&3_i16.to_be_bytes());
            out.extend_from_slice(&(text.len() as i32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(&8_i32.to_be_bytes());
            out.extend_from_slice(&number.to_be_bytes());
            match optional {
                Some(value) => {
                    out.extend_from_slice(&8_i32.to_be_bytes());
                    out.extend_from_slice(&value.to_be_bytes());
                }
                None => out.extend_from_slice(&(-1_i32).to_be_bytes()),
            }
        }
        out.extend_from_slice(&(-1_i16).to_be_bytes());
        out
    }

    fn decode_in_chunks(bytes: &[u8], size: usize) -> Vec<(String, i64, Option<i64>)> {
        let mut decoder = CopyDecoder::default();
        let mut rows = Vec::new();
        for chunk in bytes.chunks(size) {
            decoder
                .feed(chunk, |tuple| {
                    rows.push((
                        tuple.str(0)?.to_owned(),
                        tuple.i64(1)?,
                        tuple.optional_i64(2)?,
                    ));
                    Ok::<_, CopyFormatError>(())
                })
                .unwrap();
        }
        decoder.finish().unwrap();
        rows
    }

    #[test]
    fn tuples_decode_whatever_the_chunking() {
        let rows = [("u-01", 20240105, None), ("đơn vị", -7, Some(20240301))];
        let bytes = encoded(&rows);
        let expected: Vec<_> = rows
            .iter()
            .map(|(text, number, optional)| (text.to_string(), *number, *optional))
            .collect();
        for size in [1, 2, 3, 7, 19, bytes.len()] {
            assert_eq!(decode_in_chunks(&bytes, size), expected, "chunks of {size}");
        }
    }

    #[test]
    fn a_truncated_stream_or_a_wrong_type_is_an_error() {
        let bytes = encoded(&[("u", 1, None)]);
        let mut decoder = CopyDecoder::default();
        decoder
            .feed(&bytes[..bytes.len() - 3], |_| Ok::<_, CopyFormatError>(()))
            .unwrap();
        assert!(decoder.finish().is_err());

        let mut decoder = CopyDecoder::default();
        let wrong = decoder.feed(&bytes, |tuple| tuple.i64(0).map(drop));
        assert!(wrong.is_err(), "a text field read as int8");
        assert!(
            CopyDecoder::default()
                .feed(
                    b"not a copy stream at all",
                    |_| Ok::<_, CopyFormatError>(())
                )
                .is_err()
        );
    }
}
