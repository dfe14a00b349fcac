"""01_kernel_tour: cells, persistent variables, magics, rich tensors, a first plot, help."""


def cells():
    return [
        ("md", r"""
# A tour of the Rust (Ferrolab) kernel
"""),
        ("md", r"""
## Overview

This notebook runs **Rust**, one cell at a time, the way Colab runs Python. Behind each cell the
kernel compiles your code with [evcxr](https://github.com/evcxr/evcxr) and runs it in a process
that lives as long as the notebook, so variables from earlier cells are still there.

You will learn:

* how cells and persistent variables work, and why the first cell is slower than the rest;
* the magics: `:vars`, `:timing`, `:gpu`, `:dep`, `!cmd` and `:help`;
* how tensors show up as tables, and how to draw a first plot;
* where to find help.

The `ferrolab` engine is already loaded: every cell starts with an invisible
`use ferrolab::prelude::*;`, which brings in tensors, `GradientTape`, the Keras API, datasets and
plots.
"""),
        ("md", r"""
## Setup

Nothing to install or import. The cell below fixes the random seed, so that every run of this
notebook draws the same numbers (like `tf.random.set_seed(42)`), and prints the device the engine
computes on.
"""),
        ("code", r"""
set_seed(42);
println!("ferrolab is loaded; tensors live on {}", default_device());
"""),
        ("md", r"""
## Cells and persistent variables

A `let` in one cell is visible in every later cell. Under the hood each cell is compiled into a
small library and loaded into the same process, and the variables are handed from one cell to the
next. The **last expression** of a cell (no semicolon) is shown as the cell's result.
"""),
        ("code", r"""
let mut counter = 0;
let greeting = String::from("hello from Rust");
greeting.len()
"""),
        ("code", r"""
counter += 1;
counter += 1;
format!("{greeting}: the counter is now {counter}")
"""),
        ("md", r"""
Functions and structs defined in a cell are kept too, like variables:
"""),
        ("code", r"""
fn relu(x: f32) -> f32 {
    x.max(0.0)
}
(relu(-2.0), relu(3.0))
"""),
        ("md", r"""
## Magics

Lines starting with `:` talk to the kernel instead of the compiler. `:vars` lists the variables
this notebook holds, with their types:
"""),
        ("code", r"""
:vars
"""),
        ("md", r"""
`:timing` toggles a report of how long each cell takes. Compiling a cell costs a few tenths of a
second; after that the code runs at full native speed, so a loop of ten million steps is quick:
"""),
        ("code", r"""
:timing
"""),
        ("code", r"""
let mut total = 0u64;
for i in 0..10_000_000u64 {
    total = total.wrapping_add(i * i % 7);
}
total
"""),
        ("code", r"""
:timing
"""),
        ("md", r"""
`:gpu` says which device the engine computes on. On a machine with an NVIDIA GPU it names the
card, its memory and driver; elsewhere it says the engine runs on the CPU
(see `08_gpu_basics`).
"""),
        ("code", r"""
:gpu
"""),
        ("md", r"""
`!cmd` runs a shell command and streams its output while it runs, handy for `ls`, `nvidia-smi`
or checking a file you just wrote:
"""),
        ("code", r"""
!echo "cores: $(nproc)"; uname -sm
"""),
        ("md", r"""
`:dep` adds any crate from crates.io to the notebook, just like a line of `Cargo.toml`:

```rust
:dep rand = "0.8"
:dep serde_json = "1"
```

The first `:dep` of a crate downloads and compiles it (seconds to minutes), later cells use it
at once. This notebook does not run it, so that it also works offline: `ferrolab` itself is
already a dependency, loaded by the kernel before your first cell.
"""),
        ("md", r"""
## Tensors as rich output

A tensor as the last expression of a cell shows as a table with its shape and dtype. The API
follows TensorFlow: `tensor`, `zeros`, `ones`, `randn`, `linspace`, and operators that broadcast
like NumPy.
"""),
        ("code", r"""
let x = tensor([[1.0, 2.0], [3.0, 4.0]]);
let xx = x.matmul(&x);
xx
"""),
        ("code", r"""
let noise = randn([3, 5]);
println!("shape {:?}, mean {:.3}, std {:.3}", noise.dims(), noise.mean().item(), noise.std().item());
&noise * 10.0 + 100.0
"""),
        ("md", r"""
Getting numbers back out into plain Rust is `to_vec` (like `.numpy()`), or `item` for a single
value:
"""),
        ("code", r"""
let values: Vec<f32> = xx.to_vec::<f32>();
values
"""),
        ("md", r"""
## A first plot

`plot::plot(x, y)` draws a line; chain more series, labels and titles. A `Figure` as the last
expression shows inline as SVG. Tensors, `Vec<f32>` and slices are all accepted.
"""),
        ("code", r"""
let t = linspace(0.0, 2.0 * std::f32::consts::PI, 100);
plot::plot(&t, &t.sin()).label("sin(t)")
    .plot(&t, &t.cos()).label("cos(t)").dashed()
    .axhline(0.0)
    .title("A first plot")
    .xlabel("t")
    .ylabel("value")
"""),
        ("code", r"""
plot::hist(&randn([5000]), 40).title("5000 draws from randn").xlabel("value")
"""),
        ("md", r"""
## Where help lives

* `:help` lists every magic (the kernel's and evcxr's).
* `?Tensor::matmul` opens the docs of an item in the pager.
* Tab completes names, Shift+Tab shows the docs of the name under the cursor.
* Errors teach: a failing cell names the op, the shapes and a likely fix, and keeps your
  variables. The `try_` twin of an op returns the same message as a `Result`:
"""),
        ("code", r"""
let bad = x.try_matmul(&ones([3, 2]));
println!("{}", bad.unwrap_err());
"""),
        ("code", r"""
:help
"""),
        ("md", r"""
## Exercise check

Each notebook ends with a cell of `assert!`s. If you change the code above and break something,
this cell fails and says what. Here: the counter kept its value across cells, the matrix
product is right, `sin^2 + cos^2 = 1` on the plotted points, and the random draws have the
expected mean and spread.
"""),
        ("code", r"""
assert_eq!(counter, 2, "counter was bumped twice in the cell above");
assert_eq!(values, vec![7.0, 10.0, 15.0, 22.0], "[[1,2],[3,4]] squared");
let one = (t.sin().square() + t.cos().square() - 1.0).abs().max().item();
assert!(one < 1e-5, "sin^2 + cos^2 - 1 is off by {one}");
let big = randn([100_000]);
assert!(big.mean().item().abs() < 0.02 && (big.std().item() - 1.0).abs() < 0.02);
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* `02_eager_and_gradient_tape`: eager execution and automatic differentiation with
  `GradientTape`.
* `03_keras_sequential_fit`: train a first Keras model on handwritten digits.
* Try `?Dataset` or `?Sequential` for the docs of the types you will use next.
"""),
    ]
