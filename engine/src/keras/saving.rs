//! Saving weights as safetensors: an 8-byte little-endian header length, a JSON header
//! `{name: {dtype, shape, data_offsets}}`, then the raw little-endian bytes. Python's
//! `safetensors` and numpy read it. Names are the variables' (`dense/kernel`); the order is kept in
//! `__metadata__["ferrolab.order"]` so loading matches weights by position, like Keras.
//!
//! Writes are atomic: the file is written next to its target, synced, then renamed over it, so a
//! crash mid-save never corrupts an existing checkpoint.

use std::io::Write;
use std::path::Path;

use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

fn st_dtype(d: DType) -> &'static str {
    match d {
        DType::F32 => "F32",
        DType::F16 => "F16",
        DType::BF16 => "BF16",
        DType::I64 => "I64",
        DType::Bool => "BOOL",
    }
}

fn bytes_of(t: &Tensor) -> Result<Vec<u8>> {
    let c = t.contiguous();
    let l = c.layout();
    let cpu = c.storage().to_cpu()?;
    fn le<T: crate::dtype::Element, const N: usize>(
        cpu: &CpuStorage,
        l: &crate::shape::Layout,
        f: impl Fn(T) -> [u8; N],
    ) -> Vec<u8> {
        cpu.to_vec::<T>(l)
            .unwrap_or_default()
            .into_iter()
            .flat_map(f)
            .collect()
    }
    Ok(match cpu {
        CpuStorage::F32(_) => le(&cpu, l, f32::to_le_bytes),
        CpuStorage::F16(_) => le(&cpu, l, half::f16::to_le_bytes),
        CpuStorage::BF16(_) => le(&cpu, l, half::bf16::to_le_bytes),
        CpuStorage::I64(_) => le(&cpu, l, i64::to_le_bytes),
        CpuStorage::Bool(_) => le(&cpu, l, |b: bool| [b as u8]),
    })
}

/// Writes named tensors to a safetensors file, atomically.
pub fn save_tensors(path: impl AsRef<Path>, tensors: &[(String, Tensor)]) -> Result<()> {
    save_tensors_with_metadata(path, tensors, &[])
}

/// [`save_tensors`] with extra `__metadata__` string entries (a model's architecture, say).
pub fn save_tensors_with_metadata(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor)],
    extra: &[(&str, String)],
) -> Result<()> {
    let path = path.as_ref();
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, t) in tensors {
        if header.contains_key(name) {
            return Err(Error::Io(format!(
                "save: two tensors are named \"{name}\"; names must be unique"
            )));
        }
        let b = bytes_of(t)?;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": st_dtype(t.dtype()), "shape": t.dims(), "data_offsets": [data.len(), data.len() + b.len()]}),
        );
        data.extend_from_slice(&b);
    }
    let order: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    let mut meta = serde_json::Map::new();
    meta.insert("format".into(), "ferrolab".into());
    meta.insert("ferrolab.order".into(), order.join(",").into());
    for (k, v) in extra {
        meta.insert((*k).into(), v.clone().into());
    }
    header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header))
        .map_err(|e| Error::Io(e.to_string()))?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Io(format!("save: cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("weights"),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&(h.len() as u64).to_le_bytes())?;
        f.write_all(&h)?;
        f.write_all(&data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io(format!("save: cannot write {}: {e}", path.display()))
    })
}

/// Reads every tensor of a safetensors file, in saved order.
pub fn load_tensors(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Io(format!("load: cannot read {}: {e}", path.display())))?;
    let bad = |m: &str| {
        Error::Io(format!(
            "load: {} is not a valid safetensors file: {m}",
            path.display()
        ))
    };
    if bytes.len() < 8 {
        return Err(bad("too short"));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let body = bytes
        .get(8..8usize.saturating_add(n))
        .ok_or_else(|| bad("header runs past the end"))?;
    let header: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    let obj = header
        .as_object()
        .ok_or_else(|| bad("header is not an object"))?;
    let data = &bytes[8 + n..];
    let mut names: Vec<String> = match obj
        .get("__metadata__")
        .and_then(|m| m.get("ferrolab.order"))
        .and_then(|o| o.as_str())
    {
        Some(o) if !o.is_empty() => o.split(',').map(String::from).collect(),
        _ => obj
            .keys()
            .filter(|k| *k != "__metadata__")
            .cloned()
            .collect(),
    };
    names.retain(|k| obj.contains_key(k));
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let e = &obj[&name];
        let shape: Vec<usize> = e["shape"]
            .as_array()
            .ok_or_else(|| bad("missing shape"))?
            .iter()
            .map(|d| d.as_u64().unwrap_or(0) as usize)
            .collect();
        let off = e["data_offsets"]
            .as_array()
            .ok_or_else(|| bad("missing data_offsets"))?;
        let (s, t) = (
            off[0].as_u64().unwrap_or(0) as usize,
            off[1].as_u64().unwrap_or(0) as usize,
        );
        let raw = data
            .get(s..t)
            .ok_or_else(|| bad(&format!("tensor {name} runs past the end")))?;
        let n_el: usize = shape.iter().product();
        let tensor = match e["dtype"].as_str().unwrap_or("") {
            "F32" if raw.len() == n_el * 4 => from_vec(
                raw.chunks(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                    .collect::<Vec<_>>(),
                shape,
            )?,
            "F16" if raw.len() == n_el * 2 => from_vec(
                raw.chunks(2)
                    .map(|c| half::f16::from_le_bytes(c.try_into().expect("2")))
                    .collect::<Vec<_>>(),
                shape,
            )?,
            "BF16" if raw.len() == n_el * 2 => from_vec(
                raw.chunks(2)
                    .map(|c| half::bf16::from_le_bytes(c.try_into().expect("2")))
                    .collect::<Vec<_>>(),
                shape,
            )?,
            "I64" if raw.len() == n_el * 8 => from_vec(
                raw.chunks(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
                    .collect::<Vec<_>>(),
                shape,
            )?,
            "BOOL" if raw.len() == n_el => {
                from_vec(raw.iter().map(|&b| b != 0).collect::<Vec<_>>(), shape)?
            }
            d => {
                return Err(bad(&format!(
                    "tensor {name}: unsupported dtype {d} or wrong byte count"
                )))
            }
        };
        out.push((name, tensor));
    }
    Ok(out)
}

/// Saves variables under their names (`dense/kernel`, ...).
pub fn save_variables(path: impl AsRef<Path>, vars: &[Variable]) -> Result<()> {
    let named: Vec<(String, Tensor)> = vars
        .iter()
        .map(|v| (v.name().to_string(), v.as_tensor().clone()))
        .collect();
    save_tensors(path, &named)
}

/// Loads saved weights into `vars` by position; a count or shape mismatch names the tensor.
pub fn load_variables(path: impl AsRef<Path>, vars: &[Variable]) -> Result<()> {
    let saved = load_tensors(&path)?;
    if saved.len() != vars.len() {
        return Err(Error::Io(format!(
            "load_weights: {} holds {} tensors but the model has {} weights; was it saved from a different architecture?",
            path.as_ref().display(),
            saved.len(),
            vars.len()
        )));
    }
    for ((name, t), v) in saved.iter().zip(vars) {
        if t.dims() != v.dims() {
            return Err(Error::ShapeMismatch {
                op: "load_weights",
                lhs: v.dims().to_vec(),
                rhs: t.dims().to_vec(),
                hint: format!("the model's weight '{}' has the first shape, the checkpoint's tensor '{name}' the second", v.name()),
            });
        }
    }
    for ((_, t), v) in saved.iter().zip(vars) {
        v.try_assign(t)?;
    }
    Ok(())
}

/// The `__metadata__` string entries of a safetensors file.
pub fn load_metadata(path: impl AsRef<Path>) -> Result<std::collections::HashMap<String, String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Io(format!("load: cannot read {}: {e}", path.display())))?;
    let bad = |m: &str| {
        Error::Io(format!(
            "load: {} is not a valid safetensors file: {m}",
            path.display()
        ))
    };
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| bad("too short"))?;
    let body = bytes
        .get(8..8usize.saturating_add(n))
        .ok_or_else(|| bad("header runs past the end"))?;
    let header: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    Ok(header["__metadata__"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}
