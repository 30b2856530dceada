//! Plugin packages: one `.wasm` file that carries its own manifest.
//!
//! `pack` appends the manifest (and the WIT version the plugin targets) as
//! top-level custom sections of a built component, so components from any
//! language become Portico plugins without a rebuild. Top-level sections win
//! over sections an SDK embedded in a nested core module. A signature, when
//! present, is the last top-level section and covers every byte before it.

use crate::manifest::{MANIFEST_SECTION, Manifest, ManifestError, WIT_VERSION_SECTION};

/// Name of the custom section holding a package's signature.
pub const SIGNATURE_SECTION: &str = "portico:signature";

/// One top-level section of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section<'a> {
    /// The section id (0 for custom sections).
    pub(crate) id: u8,
    /// A custom section's name.
    pub(crate) name: Option<&'a str>,
    /// A custom section's data (after the name), or the whole payload otherwise.
    pub(crate) data: &'a [u8],
    /// Where the section starts (its id byte) in the file.
    pub(crate) start: usize,
}

/// The top-level sections of a component, in order (nested modules are not entered).
pub(crate) fn top_level_sections(wasm: &[u8]) -> Result<Vec<Section<'_>>, ManifestError> {
    let bad = |why: &str| ManifestError::NotAComponent(why.to_owned());
    if !wasmparser::Parser::is_component(wasm) {
        return Err(bad("not a WebAssembly component"));
    }
    let mut sections = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let (size, used) = leb128_u32(&wasm[at..]).ok_or_else(|| bad("malformed section size"))?;
        at += used;
        let end = at
            .checked_add(size as usize)
            .filter(|&end| end <= wasm.len())
            .ok_or_else(|| bad("a section runs past the end of the file"))?;
        let payload = &wasm[at..end];
        let (name, data) = if id == 0 {
            let (len, used) = leb128_u32(payload).ok_or_else(|| bad("malformed custom section"))?;
            let name_end = used + len as usize;
            let name = payload
                .get(used..name_end)
                .and_then(|n| std::str::from_utf8(n).ok())
                .ok_or_else(|| bad("malformed custom section name"))?;
            (Some(name), &payload[name_end..])
        } else {
            (None, payload)
        };
        sections.push(Section {
            id,
            name,
            data,
            start,
        });
        at = end;
    }
    Ok(sections)
}

/// Packs a built component and a manifest (`plugin.toml`) into one plugin file.
///
/// Replaces any top-level manifest, WIT version and signature the component
/// had; `wit_version` defaults to one already embedded, else this host's.
pub fn pack(
    component: &[u8],
    manifest_toml: &str,
    wit_version: Option<&str>,
) -> Result<Vec<u8>, ManifestError> {
    Manifest::parse(manifest_toml)?;
    let embedded = crate::manifest::read_sections(component)?.wit_version;
    let wit_version = wit_version
        .map(str::to_owned)
        .or(embedded)
        .unwrap_or_else(|| crate::WIT_VERSION.to_string());
    semver::Version::parse(&wit_version)
        .map_err(|e| ManifestError::Invalid(format!("WIT version `{wit_version}`: {e}")))?;
    let mut out = without_sections(
        component,
        &[MANIFEST_SECTION, WIT_VERSION_SECTION, SIGNATURE_SECTION],
    )?;
    push_custom_section(&mut out, MANIFEST_SECTION, manifest_toml.as_bytes());
    push_custom_section(&mut out, WIT_VERSION_SECTION, wit_version.as_bytes());
    Ok(out)
}

/// The component without the named top-level custom sections.
pub(crate) fn without_sections(wasm: &[u8], names: &[&str]) -> Result<Vec<u8>, ManifestError> {
    let sections = top_level_sections(wasm)?;
    let mut out = wasm[..8].to_vec();
    for (i, section) in sections.iter().enumerate() {
        let end = sections.get(i + 1).map_or(wasm.len(), |next| next.start);
        if !section.name.is_some_and(|n| names.contains(&n)) {
            out.extend_from_slice(&wasm[section.start..end]);
        }
    }
    Ok(out)
}

/// Appends a custom section.
pub(crate) fn push_custom_section(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    push_leb128(&mut payload, name.len() as u32);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    out.push(0);
    push_leb128(out, payload.len() as u32);
    out.extend_from_slice(&payload);
}

fn push_leb128(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An unsigned LEB128 number and the bytes it took.
fn leb128_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: magic, component version and layer.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    const MANIFEST: &str = "id = \"p\"\nversion = \"1.0.0\"\nworld = \"sandbox\"\nwit = \"^0.1\"\n";

    #[test]
    fn leb128_round_trips() {
        for value in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut out = Vec::new();
            push_leb128(&mut out, value);
            assert_eq!(leb128_u32(&out), Some((value, out.len())));
        }
        assert_eq!(leb128_u32(&[0x80, 0x80]), None, "unterminated");
    }

    #[test]
    fn packing_embeds_the_manifest_and_replaces_an_old_one() {
        let packed = pack(EMPTY_COMPONENT, MANIFEST, None).unwrap();
        let sections = crate::manifest::read_sections(&packed).unwrap();
        assert_eq!(sections.manifest.as_deref(), Some(MANIFEST.trim()));
        assert_eq!(
            sections.wit_version.as_deref(),
            Some(crate::WIT_VERSION.to_string().as_str())
        );
        let newer = MANIFEST.replace("1.0.0", "1.1.0");
        let repacked = pack(&packed, &newer, None).unwrap();
        let names: Vec<_> = top_level_sections(&repacked)
            .unwrap()
            .iter()
            .filter_map(|s| s.name)
            .collect();
        assert_eq!(names, [MANIFEST_SECTION, WIT_VERSION_SECTION]);
        let sections = crate::manifest::read_sections(&repacked).unwrap();
        assert_eq!(sections.manifest.as_deref(), Some(newer.trim()));
    }

    #[test]
    fn packing_refuses_a_bad_manifest_or_a_core_module() {
        let err = pack(EMPTY_COMPONENT, "id = \"p\"", None).unwrap_err();
        assert!(matches!(err, ManifestError::Invalid(_)), "{err}");
        let err = pack(b"\0asm\x01\0\0\0", MANIFEST, None).unwrap_err();
        assert!(matches!(err, ManifestError::NotAComponent(_)), "{err}");
    }

    #[test]
    fn truncated_sections_are_refused() {
        let mut packed = pack(EMPTY_COMPONENT, MANIFEST, None).unwrap();
        packed.truncate(packed.len() - 3);
        assert!(top_level_sections(&packed).is_err());
    }
}
