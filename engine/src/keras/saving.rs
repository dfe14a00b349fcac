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
    fn le<T: crate::dtype::Element, const N: usize>(
        t: &Tensor,
        f: impl Fn(T) -> [u8; N],
    ) -> Result<Vec<u8>> {
        Ok(t.try_to_vec::<T>()?.into_iter().flat_map(f).collect())
    }
    match t.dtype() {
        DType::F32 => le(t, f32::to_le_bytes),
        DType::F16 => le(t, half::f16::to_le_bytes),
        DType::BF16 => le(t, half::bf16::to_le_bytes),
        DType::I64 => le(t, i64::to_le_bytes),
        DType::Bool => le(t, |b: bool| [b as u8]),
    }
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

fn not_safetensors(path: &Path, m: &str) -> Error {
    Error::Io(format!(
        "load: {} is not a valid safetensors file: {m}",
        path.display()
    ))
}

/// The parsed header object and the data bytes after it.
fn read_safetensors(path: &Path) -> Result<(serde_json::Map<String, serde_json::Value>, Vec<u8>)> {
    let mut bytes = std::fs::read(path)
        .map_err(|e| Error::Io(format!("load: cannot read {}: {e}", path.display())))?;
    let bad = |m: &str| not_safetensors(path, m);
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| bad("too short"))?;
    let body = bytes
        .get(8..8usize.saturating_add(n))
        .ok_or_else(|| bad("header runs past the end"))?;
    let header: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    let serde_json::Value::Object(obj) = header else {
        return Err(bad("header is not an object"));
    };
    Ok((obj, bytes.split_off(8 + n)))
}

/// Little-endian elements of `N` bytes each, or None when the byte count is wrong.
fn decode<T: crate::dtype::Element, const N: usize>(
    raw: &[u8],
    n_el: usize,
    shape: Vec<usize>,
    from: fn([u8; N]) -> T,
) -> Option<Result<Tensor>> {
    (raw.len() == n_el * N).then(|| {
        let v: Vec<T> = raw
            .chunks(N)
            .map(|c| from(c.try_into().expect("N bytes")))
            .collect();
        from_vec(v, shape)
    })
}

/// Reads every tensor of a safetensors file, in saved order.
pub fn load_tensors(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let bad = |m: &str| not_safetensors(path, m);
    let (obj, data) = read_safetensors(path)?;
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
        let at = |i: usize| off.get(i).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
        let raw = data
            .get(at(0)..at(1))
            .ok_or_else(|| bad(&format!("tensor {name} runs past the end")))?;
        let n_el: usize = shape.iter().product();
        let tensor = match e["dtype"].as_str().unwrap_or("") {
            "F32" => decode(raw, n_el, shape, f32::from_le_bytes),
            "F16" => decode(raw, n_el, shape, half::f16::from_le_bytes),
            "BF16" => decode(raw, n_el, shape, half::bf16::from_le_bytes),
            "I64" => decode(raw, n_el, shape, i64::from_le_bytes),
            "BOOL" => decode(raw, n_el, shape, |[b]: [u8; 1]| b != 0),
            _ => None,
        }
        .ok_or_else(|| {
            bad(&format!(
                "tensor {name}: unsupported dtype {} or wrong byte count",
                e["dtype"]
            ))
        })??;
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
    let (obj, _) = read_safetensors(path.as_ref())?;
    Ok(obj
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// The architecture a whole-model save stored, checked to be a `class_name` model.
pub(crate) fn load_architecture(path: &str, class_name: &str) -> Result<serde_json::Value> {
    let bad = |m: String| crate::error::invalid("load_model", m);
    let meta = load_metadata(path)?;
    let arch = meta.get("ferrolab.model").ok_or_else(|| {
        bad(format!("{path} holds weights only (no architecture); build the model in code and call load_weights"))
    })?;
    let arch: serde_json::Value =
        serde_json::from_str(arch).map_err(|e| bad(format!("bad architecture in {path}: {e}")))?;
    if arch["class_name"] != class_name {
        return Err(bad(format!(
            "{path} holds a {} model; load it with that class",
            arch["class_name"]
        )));
    }
    Ok(arch)
}

/// The layers of a saved architecture, rebuilt from their configs.
pub(crate) fn rebuild_layers(
    arch: &serde_json::Value,
) -> Result<Vec<std::sync::Arc<dyn crate::keras::layers::Layer>>> {
    arch["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            crate::keras::layers::layer_from_config(
                l["class_name"].as_str().unwrap_or(""),
                &l["config"],
            )
            .map(std::sync::Arc::from)
        })
        .collect()
}

/// The entry a whole-model save writes for each layer.
pub(crate) fn layer_entry(l: &dyn crate::keras::layers::Layer) -> serde_json::Value {
    let mut config = l.get_config();
    if let Some(c) = config.as_object_mut() {
        // Keras' `dtype` entry (built-in layers have it in `get_config`): the layer's policy;
        // variables are saved in float32 always
        c.entry("dtype")
            .or_insert_with(|| l.dtype_policy().get_config());
    }
    serde_json::json!({"class_name": l.class_name(), "config": config})
}

/// Saves `vars` under their names with the architecture in the metadata.
pub(crate) fn save_model(path: &str, vars: &[Variable], arch: &serde_json::Value) -> Result<()> {
    let named: Vec<(String, Tensor)> = vars
        .iter()
        .map(|v| (v.name().to_string(), v.as_tensor().clone()))
        .collect();
    save_tensors_with_metadata(path, &named, &[("ferrolab.model", arch.to_string())])
}
