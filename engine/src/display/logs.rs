//! How Keras `Logs` (what `evaluate`, `train_step` and `test_step` return) show in a notebook:
//! a one-row HTML table (one column per metric) with text/plain like Python's dict,
//! `{loss: 0.3300, accuracy: 0.9700}`. Values use the tables' number format (4 decimals).

use super::table::{format_float, Table};
use super::{evcxr_emit, Display, MimeBundle};
use crate::keras::models::Logs;

impl Logs {
    /// `{loss: 0.3300, accuracy: 0.9700}`, the text/plain form.
    pub fn to_text(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(name, v)| format!("{name}: {}", format_float(f64::from(*v))))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// One row, one column per metric.
    pub fn to_table(&self) -> Table {
        let table = Table::new(self.0.iter().map(|(name, _)| name.clone()));
        table.row(
            self.0
                .iter()
                .map(|(_, v)| f64::from(*v))
                .collect::<Vec<f64>>(),
        )
    }

    /// What evcxr shows for logs as a cell's last expression.
    pub fn evcxr_display(&self) {
        evcxr_emit(&self.mime_bundle());
    }
}

impl Display for Logs {
    fn mime_bundle(&self) -> MimeBundle {
        vec![
            ("text/plain".into(), self.to_text()),
            ("text/html".into(), self.to_table().to_html()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_show_as_a_dict_and_a_one_row_table() {
        let logs = Logs(vec![("loss".into(), 0.33), ("accuracy".into(), 0.97)]);
        assert_eq!(logs.to_text(), "{loss: 0.3300, accuracy: 0.9700}");
        let html = logs.to_table().to_html();
        assert!(html.contains("<th") && html.contains("loss") && html.contains("accuracy"));
        assert!(html.contains("0.3300") && html.contains("0.9700"));
        assert_eq!(Logs(vec![]).to_text(), "{}");
    }
}
