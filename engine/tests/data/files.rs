//! File formats on files the tests write themselves: NPY (read, write, stream rows), CSV
//! (typed columns, missing values, errors with line numbers), list_files + interleave, and
//! the file cache.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrolab::data::{read_csv, read_npy, write_npy, CsvOptions};
use ferrolab::prelude::*;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ferrolab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.file(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn npy_round_trips_and_matches_numpy_bytes() {
    let dir = TempDir::new("npy");
    // np.save("a.npy", np.array([1, 2], dtype=np.float32)) writes exactly these bytes.
    let p = dir.file("a.npy");
    write_npy(&p, &tensor([1.0f32, 2.0])).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let mut want =
        b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
            .to_vec();
    want.resize(127, b' ');
    want.push(b'\n');
    want.extend(1.0f32.to_le_bytes());
    want.extend(2.0f32.to_le_bytes());
    assert_eq!(bytes, want);
    // Round trips for each dtype and rank.
    let cases = [
        normal([3, 4, 5], 0.0, 1.0, Some(1)),
        arange_i64(-3, 9).reshape([3, 4]),
        tensor([true, false, true]),
        tensor([0.5f32, -2.0]).cast(DType::F16),
        tensor(7.5f32),
    ];
    for (i, t) in cases.iter().enumerate() {
        let p = dir.file(&format!("t{i}.npy"));
        write_npy(&p, t).unwrap();
        let back = read_npy(&p).unwrap();
        assert_eq!((back.dims(), back.dtype()), (t.dims(), t.dtype()));
        assert_eq!(back.to_f32_vec(), t.to_f32_vec());
        assert_eq!(
            std::fs::metadata(&p).unwrap().len() as usize % 64,
            (t.elem_count() * t.dtype().size_in_bytes()) % 64
        );
    }
    // bfloat16 has no NumPy type.
    let e = write_npy(dir.file("b.npy"), &tensor([1.0f32]).cast(DType::BF16)).unwrap_err();
    assert!(e.to_string().contains("cast(DType::F32)"), "{e}");
}

/// An .npy file written by hand with any header and payload.
fn raw_npy(dir: &TempDir, name: &str, header: &str, payload: &[u8]) -> PathBuf {
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(payload);
    let p = dir.file(name);
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn npy_reads_other_numpy_dtypes_and_reports_bad_files() {
    let dir = TempDir::new("npy-bad");
    let f8: Vec<u8> = [1.5f64, -2.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = raw_npy(
        &dir,
        "f8.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        &f8,
    );
    let t = read_npy(&p).unwrap();
    assert_eq!(
        (t.dtype(), t.to_vec::<f32>()),
        (DType::F32, vec![1.5, -2.25])
    );
    let i4: Vec<u8> = [3i32, -4, 5, 6]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = raw_npy(
        &dir,
        "i4.npy",
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }",
        &i4,
    );
    assert_eq!(
        read_npy(&p).unwrap().to_vec2::<i64>(),
        vec![vec![3, -4], vec![5, 6]]
    );
    let u1 = raw_npy(
        &dir,
        "u1.npy",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
        &[0, 128, 255],
    );
    assert_eq!(read_npy(&u1).unwrap().to_vec::<i64>(), vec![0, 128, 255]);

    let err = |p: PathBuf| read_npy(p).unwrap_err().to_string();
    let be = raw_npy(
        &dir,
        "be.npy",
        "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
        &[0; 4],
    );
    assert!(err(be).contains("'>f4' is not supported"));
    let fo = raw_npy(
        &dir,
        "fo.npy",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }",
        &[0; 4],
    );
    assert!(err(fo).contains("Fortran-order"));
    let short = raw_npy(
        &dir,
        "short.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        &[0; 8],
    );
    assert!(err(short.clone()).contains("truncated"));
    let junk = dir.write("junk.npy", "hello, world");
    assert!(err(junk).contains("not an .npy file"));
    assert!(err(dir.file("missing.npy")).contains("missing.npy"));
    // A header that promises more than the file holds is caught before anything is allocated,
    // also when streaming rows, and also when the promise overflows.
    let rows = raw_npy(
        &dir,
        "rows.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
        &[0; 20],
    );
    let got: Vec<_> = Dataset::from_npy(&rows).try_iter().collect();
    assert_eq!(got.len(), 1);
    let e = got[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("holds only 20 bytes of values"), "{e}");
    let huge = raw_npy(
        &dir,
        "huge.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
        &[0; 8],
    );
    assert!(err(huge).contains("truncated"));
    let _ = short;
}

#[test]
fn sharded_npy_files_stream_through_list_files_and_interleave() {
    let dir = TempDir::new("shards");
    for s in 0..3 {
        // Shard s holds rows [100s + r, -(100s + r)] for r in 0..4.
        let v: Vec<f32> = (0..4)
            .flat_map(|r| [(100 * s + r) as f32, -((100 * s + r) as f32)])
            .collect();
        write_npy(
            dir.file(&format!("part-{s}.npy")),
            &from_vec(v, [4, 2]).unwrap(),
        )
        .unwrap();
    }
    dir.write("notes.txt", "not a shard");
    let files = Dataset::list_files(dir.file("part-*.npy")).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["part-0.npy", "part-1.npy", "part-2.npy"]);
    let firsts =
        |ds: Dataset<Tensor>| -> Vec<f32> { ds.iter().map(|t| t.to_vec::<f32>()[0]).collect() };
    let rows = files.interleave(Dataset::from_npy, 2, 2);
    assert_eq!(
        firsts(rows.clone()),
        vec![0., 1., 100., 101., 2., 3., 102., 103., 200., 201., 202., 203.]
    );
    assert_eq!(
        firsts(
            files
                .interleave(Dataset::from_npy, 2, 2)
                .num_parallel_calls(2)
        ),
        firsts(rows)
    );
    assert!(Dataset::list_files(dir.file("nothing-*.npy")).is_err());
}

const CSV: &str = "\
sepal,petal,species,note
5.1,1.4,0,\"plain\"
4.9,,0,\"with, comma\"
6.3,4.9,1,NA

7.0,4.7,2,x
";

#[test]
fn read_csv_types_columns_and_reports_missing_values() {
    let dir = TempDir::new("csv");
    let p = dir.write("iris.csv", CSV);
    let opts = CsvOptions::new().select_columns(&["sepal", "petal", "species"]);
    let t = read_csv(&p, &opts).unwrap();
    assert_eq!(t.rows, 4);
    assert_eq!(t.names, vec!["sepal", "petal", "species"]);
    assert_eq!(
        t.column("species").unwrap().dtype(),
        DType::I64,
        "whole numbers read as int64"
    );
    assert_eq!(
        t.column("species").unwrap().to_vec::<i64>(),
        vec![0, 0, 1, 2]
    );
    let petal = t.column("petal").unwrap().to_vec::<f32>();
    assert!(petal[1].is_nan() && petal[0] == 1.4 && petal[3] == 4.7);
    assert_eq!(t.missing, vec![0, 1, 0]);
    assert!(t.to_string().contains("petal"));
    assert_eq!(t.features(&["sepal", "species"]).dims(), &[4, 2]);
    let filled = read_csv(&p, &opts.clone().fill_missing(-1.0)).unwrap();
    assert_eq!(filled.column("petal").unwrap().to_vec::<f32>()[1], -1.0);
    assert_eq!(filled.missing, vec![0, 1, 0]);
    // Unknown column names are listed.
    let e = read_csv(&p, &CsvOptions::new().select_columns(&["petals"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no column named 'petals'") && e.contains("sepal, petal, species, note"),
        "{e}"
    );
}

#[test]
fn csv_errors_name_the_line_and_column() {
    let dir = TempDir::new("csv-bad");
    let bad_count = dir.write("a.csv", "x,y\n1,2\n3\n4,5\n");
    let e = read_csv(&bad_count, &CsvOptions::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("a.csv line 3: expected 2 fields (x, y), found 1"),
        "{e}"
    );
    let bad_value = dir.write("b.csv", "x,y\n1,2\n3,4\n5,abc\n");
    let e = read_csv(&bad_value, &CsvOptions::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("b.csv line 4, column 'y': cannot parse 'abc' as float32"),
        "{e}"
    );
    let missing_int = dir.write("c.csv", "x,label\n1.5,0\n2.5,\n");
    let opts = CsvOptions::new().column_types(&[DType::F32, DType::I64]);
    let e = read_csv(&missing_int, &opts).unwrap_err().to_string();
    assert!(
        e.contains("c.csv line 3, column 'label': missing value in a int64 column"),
        "{e}"
    );
    let quote = dir.write("d.csv", "x\n\"open\n");
    assert!(read_csv(&quote, &CsvOptions::new())
        .unwrap_err()
        .to_string()
        .contains("line 2: a quoted field"));
    assert!(read_csv(dir.file("none.csv"), &CsvOptions::new()).is_err());
    // Streaming: good rows as elements, a bad row as an error element naming its line.
    let got: Vec<_> = Dataset::from_csv(&bad_value, CsvOptions::new())
        .try_iter()
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].as_ref().unwrap()[1].to_scalar::<f32>(), 4.0);
    assert!(got[2]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("line 4, column 'y'"));
}

#[test]
fn from_csv_streams_typed_rows() {
    let dir = TempDir::new("csv-stream");
    let p = dir.write("iris.csv", CSV);
    let opts = CsvOptions::new()
        .column_types(&[DType::F32, DType::F32, DType::I64, DType::F32])
        .select_columns(&["sepal", "petal", "species"]);
    let ds = Dataset::from_csv(&p, opts).map(|row| (stack(&[&row[0], &row[1]], 0), row[2].clone()));
    let got: Vec<(Vec<f32>, i64)> = ds
        .iter()
        .map(|(x, y)| (x.to_vec::<f32>(), y.to_scalar::<i64>()))
        .collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], (vec![5.1, 1.4], 0));
    assert!(got[1].0[1].is_nan());
    assert_eq!(got[3], (vec![7.0, 4.7], 2));
    let no_header = dir.write("nh.csv", "1,2\n3,4\n");
    let rows: Vec<Vec<f32>> = Dataset::from_csv(&no_header, CsvOptions::new().header(false))
        .iter()
        .map(|r| r.iter().map(|t| t.to_scalar::<f32>()).collect())
        .collect();
    assert_eq!(rows, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
}

#[test]
fn file_cache_is_written_once_and_reused() {
    let dir = TempDir::new("cache");
    let calls = Arc::new(AtomicUsize::new(0));
    let make = |calls: Arc<AtomicUsize>| {
        let x = arange(0.0, 12.0, 1.0).reshape([6, 2]);
        Dataset::from_tensor_slices((&x, &arange_i64(0, 6)))
            .map(move |(x, y)| {
                calls.fetch_add(1, Ordering::SeqCst);
                (x.affine(2.0, 0.0), y)
            })
            .cache_to_file(dir.file("pairs.cache"))
    };
    let ds = make(calls.clone());
    let collect = |ds: &Dataset<(Tensor, Tensor)>| -> Vec<(Vec<f32>, i64)> {
        ds.iter()
            .map(|(x, y)| (x.to_vec::<f32>(), y.to_scalar::<i64>()))
            .collect()
    };
    // A partial pass does not create the cache.
    assert_eq!(ds.iter().take(2).count(), 2);
    assert!(!dir.file("pairs.cache").exists());
    let first = collect(&ds);
    assert_eq!(first[5], (vec![20.0, 22.0], 5));
    assert!(dir.file("pairs.cache").exists());
    let n = calls.load(Ordering::SeqCst);
    assert_eq!(collect(&ds), first);
    // A new pipeline over the same file reads it without running the map.
    assert_eq!(collect(&make(calls.clone())), first);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        n,
        "later passes come from the file"
    );
    // A damaged file is an error, not a panic.
    std::fs::write(dir.file("pairs.cache"), b"FLCACHE1\n\x02\x00").unwrap();
    let got: Vec<_> = make(calls).try_iter().collect();
    assert!(got[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("truncated or damaged"));
}
