//! A tour of the display and plot API outside a notebook: a progress bar rewriting one terminal
//! line, a table, and a gallery of figures written as SVG and PNG.
//!
//! ```text
//! cargo run --release -p ferrolab --example plot_gallery -- /tmp/gallery
//! ```
//!
//! In a notebook the same calls show inline (`fig.show()`, or the figure as a cell's last
//! expression). Asserts its own outputs, like every example.

use ferrolab::prelude::*;

fn main() -> ferrolab::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "plot-gallery".into());
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io(e.to_string()))?;
    set_seed(7);

    // Progress: in a terminal the bar rewrites one line with \r, at most 10 times a second.
    let steps = 30;
    let mut loss_curve = Vec::new();
    for epoch in 1..=3 {
        let mut bar = ProgressBar::new(epoch, 3, steps);
        for step in 1..=steps {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let loss = 1.0 / (epoch * steps + step) as f64;
            bar.update(step, &[("loss", loss)]);
        }
        let loss = 1.0 / ((epoch + 1) * steps) as f64;
        loss_curve.push(loss);
        bar.finish(&[("val_loss", loss * 1.1)]);
    }

    // Tables: Keras-style text here, HTML in a notebook.
    let table = Table::from_columns("epoch", &[("loss", &loss_curve)]);
    println!("{table}");

    // Figures.
    let x = linspace(0.0, std::f32::consts::TAU, 60);
    let waves = plot::plot(&x, x.sin())
        .label("sin")
        .marker("o")
        .plot(&x, x.cos())
        .label("cos")
        .dashed()
        .axhline(0.0)
        .title("Waves")
        .xlabel("x")
        .ylabel("y");
    let cm = tensor([[48i64, 2, 0], [3, 44, 3], [0, 4, 46]]);
    let confusion = plot::heatmap(&cm)
        .annotate()
        .cmap("Blues")
        .ticklabels(
            ["setosa", "versicolor", "virginica"],
            ["setosa", "versicolor", "virginica"],
        )
        .title("Confusion matrix")
        .xlabel("predicted")
        .ylabel("true");
    let dashboard = plot::subplots(
        2,
        [
            plot::line(&loss_curve)
                .yscale("log")
                .title("loss (log)")
                .xlabel("epoch"),
            plot::hist(randn([2000]), 30).title("weights"),
            plot::scatter(randn([90]), randn([90]))
                .classes((0..90).map(|i| i % 3).collect::<Vec<_>>())
                .title("classes"),
            plot::bar(["cpu", "gpu"], [1.0, 12.5]).title("speed-up"),
        ],
    )
    .suptitle("Dashboard");
    for (name, fig) in [
        ("waves", &waves),
        ("confusion", &confusion),
        ("dashboard", &dashboard),
    ] {
        fig.save(format!("{dir}/{name}.svg"))?;
        fig.save(format!("{dir}/{name}.png"))?;
    }
    let digits = plot::image_grid(&rand([12, 8, 8]))
        .captions(0..12)
        .title("random 8x8");
    digits.save(format!("{dir}/grid.png"))?;

    let svg = std::fs::read_to_string(format!("{dir}/waves.svg"))
        .map_err(|e| Error::Io(e.to_string()))?;
    assert!(
        svg.contains("Waves") && svg.contains("<polyline"),
        "the SVG has its title and lines"
    );
    println!("wrote waves, confusion, dashboard (.svg, .png) and grid.png to {dir}/");
    Ok(())
}
