//! `Logs` (one epoch's figures) and `History` (all epochs), as `fit` returns them.

use std::fmt;

/// Named figures in order: `loss`, `accuracy`, `val_loss`, ...
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs(pub Vec<(String, f32)>);

impl Logs {
    pub fn get(&self, name: &str) -> Option<f32> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
    pub fn set(&mut self, name: &str, v: f32) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = v,
            None => self.0.push((name.to_string(), v)),
        }
    }
}

impl fmt::Display for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}: {v:.4}")).collect();
        f.write_str(&parts.join(" - "))
    }
}

/// What `fit` returns: one value per epoch for each figure (`history.get("loss")`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub epoch: Vec<usize>,
    pub history: Vec<(String, Vec<f32>)>,
}

impl History {
    pub(crate) fn push(&mut self, epoch: usize, logs: &Logs) {
        self.epoch.push(epoch);
        for (n, v) in &logs.0 {
            match self.history.iter_mut().find(|(k, _)| k == n) {
                Some((_, vals)) => vals.push(*v),
                None => self.history.push((n.clone(), vec![*v])),
            }
        }
    }
    /// The per-epoch values of a figure (`history.history["loss"]`).
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.history
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
    /// The last epoch's value of a figure.
    pub fn last(&self, name: &str) -> Option<f32> {
        self.get(name).and_then(|v| v.last().copied())
    }
    pub fn len(&self) -> usize {
        self.epoch.len()
    }
    pub fn is_empty(&self) -> bool {
        self.epoch.is_empty()
    }

    /// Loss and metric curves per epoch, one panel per figure, with its `val_` twin if any.
    pub fn plot(&self) -> crate::plot::Figure {
        let epochs: Vec<f64> = self.epoch.iter().map(|e| (*e + 1) as f64).collect();
        let mut fig = crate::plot::Figure::new();
        let bases: Vec<&str> = self
            .history
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.starts_with("val_"))
            .collect();
        for (i, base) in bases.iter().enumerate() {
            if i > 0 {
                fig = fig.subplot();
            }
            let train = self.get(base).unwrap_or(&[]);
            fig = fig.plot(&epochs, train).label(*base).marker("o");
            if let Some(v) = self.get(&format!("val_{base}")) {
                fig = fig
                    .plot(&epochs, v)
                    .label(format!("val_{base}"))
                    .marker("o");
            }
            fig = fig.title(*base).xlabel("epoch");
        }
        fig
    }

    /// What evcxr shows for a history as a cell's last expression: the curves.
    pub fn evcxr_display(&self) {
        self.plot().evcxr_display();
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>5}", "epoch")?;
        for (n, _) in &self.history {
            write!(f, " {n:>12}")?;
        }
        for (i, e) in self.epoch.iter().enumerate() {
            write!(f, "\n{:>5}", e + 1)?;
            for (_, v) in &self.history {
                write!(f, " {:>12.4}", v[i])?;
            }
        }
        Ok(())
    }
}
