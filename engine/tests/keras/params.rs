//! Parameter counts and `summary()` against the counts Keras prints for the same architectures.
//!
//! Reference counts (Keras 3): Dense(n) on d inputs = d n + n; Conv2D(f, k) on c channels =
//! k_h k_w c f + f; BatchNormalization(c) = 4c (2c non-trainable); Embedding(v, d) = v d;
//! LayerNormalization(c) = 2c. The MNIST convnet is the one from keras.io/examples/vision/mnist_convnet
//! (34,826 parameters).

use ferrolab::prelude::*;

/// One row of the table: a model, its total and non-trainable counts, and its per-layer rows
/// (class, output shape, params).
struct Case {
    name: &'static str,
    model: Box<dyn KerasModel>,
    total: usize,
    non_trainable: usize,
    rows: Vec<(&'static str, &'static str, usize)>,
}

fn seq(layers: Vec<Box<dyn Layer>>, input: &[usize]) -> Box<dyn KerasModel> {
    let mut m = Sequential::new();
    for l in layers {
        m.push(l);
    }
    Box::new(m.input_shape(input))
}

fn cases() -> Vec<Case> {
    let functional = {
        let (a, b) = (Input::new([32]), Input::new([16]));
        let (ha, hb) = (Dense::new(64).apply(&a), Dense::new(64).apply(&b));
        let s = Add::new().apply_many(&[&ha, &hb]);
        let out = Dense::new(1).apply(&s);
        Box::new(Model::new(&[&a, &b], &[&out])) as Box<dyn KerasModel>
    };
    vec![
        Case {
            name: "mlp 784-128-10",
            model: seq(
                vec![
                    Box::new(Dense::new(128).activation("relu")),
                    Box::new(Dense::new(10)),
                ],
                &[784],
            ),
            total: 101_770,
            non_trainable: 0,
            rows: vec![
                ("Dense", "(None, 128)", 100_480),
                ("Dense", "(None, 10)", 1_290),
            ],
        },
        Case {
            name: "digits mlp 64-128-64-10",
            model: seq(
                vec![
                    Box::new(Dense::new(128).activation("relu")),
                    Box::new(Dense::new(64).activation("relu")),
                    Box::new(Dense::new(10)),
                ],
                &[64],
            ),
            total: 17_226,
            non_trainable: 0,
            rows: vec![
                ("Dense", "(None, 128)", 8_320),
                ("Dense", "(None, 64)", 8_256),
                ("Dense", "(None, 10)", 650),
            ],
        },
        Case {
            name: "conv2d(32, 3) on 28x28x1",
            model: seq(vec![Box::new(Conv2D::new(32, 3))], &[28, 28, 1]),
            total: 320,
            non_trainable: 0,
            rows: vec![("Conv2D", "(None, 26, 26, 32)", 320)],
        },
        Case {
            name: "batchnorm(64)",
            model: seq(vec![Box::new(BatchNormalization::new())], &[64]),
            total: 256,
            non_trainable: 128,
            rows: vec![("BatchNormalization", "(None, 64)", 256)],
        },
        Case {
            name: "embedding(1000, 64) on 10 ids",
            model: seq(vec![Box::new(Embedding::new(1000, 64))], &[10]),
            total: 64_000,
            non_trainable: 0,
            rows: vec![("Embedding", "(None, 10, 64)", 64_000)],
        },
        Case {
            name: "layernorm(64)",
            model: seq(vec![Box::new(LayerNormalization::new())], &[64]),
            total: 128,
            non_trainable: 0,
            rows: vec![("LayerNormalization", "(None, 64)", 128)],
        },
        Case {
            name: "digits cnn, same padding",
            model: seq(
                vec![
                    Box::new(Conv2D::new(16, 3).padding("same").activation("relu")),
                    Box::new(MaxPooling2D::new(2)),
                    Box::new(Conv2D::new(32, 3).padding("same").activation("relu")),
                    Box::new(Flatten::new()),
                    Box::new(Dense::new(10)),
                ],
                &[8, 8, 1],
            ),
            total: 9_930,
            non_trainable: 0,
            rows: vec![
                ("Conv2D", "(None, 8, 8, 16)", 160),
                ("MaxPooling2D", "(None, 4, 4, 16)", 0),
                ("Conv2D", "(None, 4, 4, 32)", 4_640),
                ("Flatten", "(None, 512)", 0),
                ("Dense", "(None, 10)", 5_130),
            ],
        },
        Case {
            name: "keras.io mnist convnet",
            model: seq(
                vec![
                    Box::new(Conv2D::new(32, 3).activation("relu")),
                    Box::new(MaxPooling2D::new(2)),
                    Box::new(Conv2D::new(64, 3).activation("relu")),
                    Box::new(MaxPooling2D::new(2)),
                    Box::new(Flatten::new()),
                    Box::new(Dropout::new(0.5)),
                    Box::new(Dense::new(10).activation("softmax")),
                ],
                &[28, 28, 1],
            ),
            total: 34_826,
            non_trainable: 0,
            rows: vec![
                ("Conv2D", "(None, 26, 26, 32)", 320),
                ("MaxPooling2D", "(None, 13, 13, 32)", 0),
                ("Conv2D", "(None, 11, 11, 64)", 18_496),
                ("MaxPooling2D", "(None, 5, 5, 64)", 0),
                ("Flatten", "(None, 1600)", 0),
                ("Dropout", "(None, 1600)", 0),
                ("Dense", "(None, 10)", 16_010),
            ],
        },
        Case {
            name: "conv1d(16, 5) on (100, 8)",
            model: seq(vec![Box::new(Conv1D::new(16, 5))], &[100, 8]),
            total: 656,
            non_trainable: 0,
            rows: vec![("Conv1D", "(None, 96, 16)", 656)],
        },
        Case {
            name: "conv2d(8, (3, 5)) without bias, then global average pooling and dense",
            model: seq(
                vec![
                    Box::new(Conv2D::new(8, (3, 5)).use_bias(false)),
                    Box::new(GlobalAveragePooling2D::new()),
                    Box::new(Dense::new(4)),
                ],
                &[16, 16, 3],
            ),
            total: 360 + 36,
            non_trainable: 0,
            rows: vec![
                ("Conv2D", "(None, 14, 12, 8)", 360),
                ("GlobalAveragePooling2D", "(None, 8)", 0),
                ("Dense", "(None, 4)", 36),
            ],
        },
        Case {
            name: "dense on a sequence (None, 10, 32) + batchnorm",
            model: seq(
                vec![Box::new(Dense::new(8)), Box::new(BatchNormalization::new())],
                &[10, 32],
            ),
            total: 264 + 32,
            non_trainable: 16,
            rows: vec![
                ("Dense", "(None, 10, 8)", 264),
                ("BatchNormalization", "(None, 10, 8)", 32),
            ],
        },
        Case {
            name: "functional: two inputs, add, dense",
            model: functional,
            total: 3_265,
            non_trainable: 0,
            rows: vec![
                ("InputLayer", "(None, 32)", 0),
                ("InputLayer", "(None, 16)", 0),
                ("Dense", "(None, 64)", 2_112),
                ("Dense", "(None, 64)", 1_088),
                ("Add", "(None, 64)", 0),
                ("Dense", "(None, 1)", 65),
            ],
        },
    ]
}

#[test]
fn parameter_counts_equal_keras() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    for case in cases() {
        println!("{}", case.name);
        let s = case.model.summary();
        println!("{s}");
        assert_eq!(
            case.model.count_params(),
            case.total,
            "{}: count_params",
            case.name
        );
        assert_eq!(s.total_params, case.total, "{}: total", case.name);
        assert_eq!(s.non_trainable_params, case.non_trainable, "{}", case.name);
        assert_eq!(
            s.trainable_params,
            case.total - case.non_trainable,
            "{}",
            case.name
        );
        let trainable: usize = case
            .model
            .trainable_weights()
            .iter()
            .map(|w| w.elem_count())
            .sum();
        assert_eq!(
            trainable, s.trainable_params,
            "{}: trainable_weights",
            case.name
        );
        let rows: Vec<(&str, &str, usize)> = s
            .rows
            .iter()
            .map(|r| (r.class_name.as_str(), r.output_shape.as_str(), r.params))
            .collect();
        assert_eq!(rows, case.rows, "{}: rows", case.name);
        let row_sum: usize = s.rows.iter().map(|r| r.params).sum();
        assert_eq!(row_sum, case.total, "{}: rows add up", case.name);
    }
}

#[test]
fn summary_prints_keras_style_text_and_html() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let model = Sequential::new()
        .named("mnist_mlp")
        .add(Dense::new(128).activation("relu"))
        .add(Dense::new(10))
        .input_shape([784]);
    let text = model.summary().to_string();
    println!("{text}");
    // Keras: 101,770 params x 4 bytes = 407,080 B = 397.54 KB
    for part in [
        "Model: \"mnist_mlp\"",
        "Layer (type)",
        "Output Shape",
        "Param #",
        "(Dense)",
        "(None, 128)",
        "100,480",
        "1,290",
        " Total params: 101,770 (397.54 KB)",
        " Trainable params: 101,770 (397.54 KB)",
        " Non-trainable params: 0 (0.00 B)",
    ] {
        assert!(text.contains(part), "summary is missing {part:?}:\n{text}");
    }
    let html = model.summary().to_html();
    assert!(html.contains("<table>") && html.contains("100,480") && html.contains("(None, 10)"));
    assert!(html.contains("Total params: 101,770 (397.54 KB)"));
    // BatchNormalization(64): 256 params = 1.00 KB, half of it non-trainable
    let bn = Sequential::new()
        .add(BatchNormalization::new())
        .input_shape([64]);
    let t = bn.summary().to_string();
    assert!(t.contains("Total params: 256 (1.00 KB)"), "{t}");
    assert!(t.contains("Non-trainable params: 128 (512.00 B)"), "{t}");
}

#[test]
fn a_model_built_by_its_first_call_counts_the_same() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // no input_shape: the weights appear on the first call, as in Keras' deferred build
    let m = Sequential::new().add(Dense::new(16)).add(Dense::new(3));
    assert_eq!(m.count_params(), 0);
    m.call(&zeros([2, 5]), false);
    assert_eq!(m.count_params(), 5 * 16 + 16 + 16 * 3 + 3);
    let s = m.summary();
    assert_eq!(s.total_params, 147);
    assert_eq!(s.rows[1].output_shape, "(None, 3)");
    // a nested model counts as one row with all its parameters
    let outer = Sequential::new().add(m).add(Dense::new(1)).input_shape([5]);
    let s = outer.summary();
    assert_eq!(s.rows.len(), 2);
    assert_eq!(
        (s.rows[0].class_name.as_str(), s.rows[0].params),
        ("Sequential", 147)
    );
    assert_eq!(s.total_params, 147 + 4);
}
