//! The fields of one GRIB2 message.
//!
//! GRIB2 lets a message repeat sections 2–7 (or 3–7, or 4–7) after its first field: NCEP packs
//! u and v of one level into one message so, and a field may take the bitmap of the one before
//! it (bitmap indicator 254). ecCodes returns only the first field of such a message unless its
//! multi-field mode is on, and that mode keeps its place in each message in the library's
//! global context, keyed by the `FILE*` address: a read that stops inside a message (an error,
//! or decoding one field of it) leaves the state behind for the next file that gets the same
//! address. So the message's sections are framed here and every field is handed to ecCodes as
//! a single-field message of its own (sections 0–3, the field's 4–7, its bitmap resolved, 8),
//! exactly the message ecCodes' multi-field mode assembles (`grib2_build_message`).

/// One section of a GRIB2 message, by offset from the message's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    pub number: u8,
    pub offset: usize,
    pub length: usize,
}

/// The sections that make each field: 1, 2 (when present), 3, 4, 5, 6, 7. A bitmap inherited
/// with indicator 254 is the section 6 that defined it.
pub type FieldSections = [Option<Section>; 8];

/// Bytes of a message: read from a file at an offset, or a slice in memory.
pub trait MessageBytes {
    fn read(&self, offset: usize, buffer: &mut [u8]) -> std::io::Result<()>;
}

impl MessageBytes for [u8] {
    fn read(&self, offset: usize, buffer: &mut [u8]) -> std::io::Result<()> {
        let end = offset.checked_add(buffer.len()).filter(|&e| e <= self.len());
        match end {
            Some(end) => {
                buffer.copy_from_slice(&self[offset..end]);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// A message `length` bytes long starting at `start` in a file.
pub struct InFile<'a> {
    pub file: &'a std::fs::File,
    pub start: u64,
}

impl MessageBytes for InFile<'_> {
    fn read(&self, offset: usize, buffer: &mut [u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buffer, self.start + offset as u64)
    }
}

const SECTION_0: usize = 16;

/// Each field of a GRIB2 message of `length` bytes, read only at its section headers (a few
/// bytes each): a file's messages can be framed without decoding or copying them.
pub fn fields(bytes: &(impl MessageBytes + ?Sized), length: usize) -> Result<Vec<FieldSections>, String> {
    let mut head = [0u8; SECTION_0];
    bytes
        .read(0, &mut head)
        .map_err(|e| format!("cannot read section 0: {e}"))?;
    if &head[0..4] != b"GRIB" || head[7] != 2 {
        return Err("not a GRIB2 message".into());
    }
    let mut current: FieldSections = [None; 8];
    // The last bitmap a field defined, which indicator 254 reuses.
    let mut bitmap: Option<Section> = None;
    let mut out = Vec::new();
    let mut offset = SECTION_0;
    let mut previous = 0u8;
    loop {
        if offset + 4 > length {
            return Err(format!(
                "section after section {previous} runs past the message's end ({length} bytes)"
            ));
        }
        let mut header = [0u8; 6];
        let available = (length - offset).min(6);
        bytes
            .read(offset, &mut header[..available])
            .map_err(|e| format!("cannot read the section at byte {offset}: {e}"))?;
        if &header[0..4] == b"7777" {
            if offset + 4 != length {
                return Err(format!(
                    "end section 7777 at byte {offset}, the message declares {length} bytes"
                ));
            }
            break;
        }
        if available < 5 {
            return Err(format!("section at byte {offset} is cut short by the message's end"));
        }
        let section_length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let number = header[4];
        if section_length < 5 || offset + section_length > length - 4 {
            return Err(format!(
                "section {number} at byte {offset} declares {section_length} bytes, past the message's end ({length} bytes)"
            ));
        }
        if !(1..=7).contains(&number) {
            return Err(format!(
                "section number {number} at byte {offset} (GRIB2 has sections 1 to 7)"
            ));
        }
        // Sections run 1, 2?, 3, 4, 5, 6, 7 and after a 7 start again at 2, 3 or 4.
        let follows = match number {
            1 => previous == 0,
            2 => previous == 1 || previous == 7,
            3 => matches!(previous, 1 | 2 | 7),
            4 => previous == 3 || previous == 7,
            n => previous == n - 1,
        };
        if !follows {
            return Err(format!(
                "section {number} at byte {offset} follows section {previous}: sections out of order"
            ));
        }
        let mut section = Section {
            number,
            offset,
            length: section_length,
        };
        if number == 6 {
            if section_length < 6 {
                return Err(format!("bitmap section at byte {offset} has no bitmap indicator"));
            }
            match header[5] {
                254 => {
                    section = bitmap.ok_or_else(|| {
                        format!(
                            "field {} reuses a bitmap (indicator 254) but no field before it in the message defines one",
                            out.len() + 1
                        )
                    })?;
                }
                _ => bitmap = Some(section),
            }
        }
        current[number as usize] = Some(section);
        if number == 7 {
            if current[1].is_none() || current[3..=6].iter().any(Option::is_none) {
                return Err(format!("field {} lacks one of sections 1 and 3–6", out.len() + 1));
            }
            out.push(current);
        }
        previous = number;
        offset += section_length;
    }
    if previous != 7 {
        return Err(format!(
            "the message ends after section {previous}, not after a data section (7)"
        ));
    }
    Ok(out)
}

/// The single-field message of `field`, from the whole message's bytes.
pub fn single_field_message(message: &[u8], field: &FieldSections) -> Vec<u8> {
    let sections: Vec<Section> = field.iter().flatten().copied().collect();
    let total = SECTION_0 + sections.iter().map(|s| s.length).sum::<usize>() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&message[..8]);
    out.extend_from_slice(&(total as u64).to_be_bytes());
    for s in sections {
        out.extend_from_slice(&message[s.offset..s.offset + s.length]);
    }
    out.extend_from_slice(b"7777");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(number: u8, body: &[u8]) -> Vec<u8> {
        let mut s = ((body.len() + 5) as u32).to_be_bytes().to_vec();
        s.push(number);
        s.extend_from_slice(body);
        s
    }

    fn message(sections: &[Vec<u8>]) -> Vec<u8> {
        let length = 16 + sections.iter().map(Vec::len).sum::<usize>() + 4;
        let mut m = b"GRIB\0\0\0\x02".to_vec();
        m.extend_from_slice(&(length as u64).to_be_bytes());
        for s in sections {
            m.extend_from_slice(s);
        }
        m.extend_from_slice(b"7777");
        m
    }

    /// Two fields sharing sections 1–3, the second taking the first's bitmap: each comes out
    /// as a message of its own with that bitmap in it.
    #[test]
    fn repeated_sections_make_one_message_per_field() {
        let m = message(&[
            section(1, b"id"),
            section(3, b"grid"),
            section(4, b"u"),
            section(5, b"pack-u"),
            section(6, &[0, 0xAA]),
            section(7, b"data-u"),
            section(4, b"v"),
            section(5, b"pack-v"),
            section(6, &[254]),
            section(7, b"data-v"),
        ]);
        let f = fields(m.as_slice(), m.len()).unwrap();
        assert_eq!(f.len(), 2);
        let second = single_field_message(&m, &f[1]);
        let expected = message(&[
            section(1, b"id"),
            section(3, b"grid"),
            section(4, b"v"),
            section(5, b"pack-v"),
            section(6, &[0, 0xAA]),
            section(7, b"data-v"),
        ]);
        assert_eq!(second, expected);
        // The first field alone is the message without the second's sections.
        let first = single_field_message(&m, &f[0]);
        assert_eq!(fields(first.as_slice(), first.len()).unwrap().len(), 1);
    }

    #[test]
    fn damaged_framing_is_refused_saying_where() {
        let orphan = message(&[
            section(1, b"id"),
            section(3, b"grid"),
            section(4, b"u"),
            section(5, b"p"),
            section(6, &[254]),
            section(7, b"d"),
        ]);
        let e = fields(orphan.as_slice(), orphan.len()).unwrap_err();
        assert!(e.contains("indicator 254"), "{e}");

        let mut cut = message(&[section(1, b"id"), section(3, b"grid"), section(4, b"u")]);
        let e = fields(cut.as_slice(), cut.len()).unwrap_err();
        assert!(e.contains("ends after section 4"), "{e}");

        // A section longer than the message.
        cut[16 + 3] = 200;
        let e = fields(cut.as_slice(), cut.len()).unwrap_err();
        assert!(e.contains("past the message's end"), "{e}");

        let swapped = message(&[section(1, b"id"), section(4, b"u"), section(3, b"grid")]);
        let e = fields(swapped.as_slice(), swapped.len()).unwrap_err();
        assert!(e.contains("out of order"), "{e}");
    }
}
