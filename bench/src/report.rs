//! The figures of one run: a table on stdout and `target/bench/latest.json`, one JSON
//! object per section with the same keys as the table.

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value, json};

#[derive(Default)]
pub struct Report {
    rows: Vec<(String, String, String, String)>,
    sections: Map<String, Value>,
    notes: Vec<String>,
}

impl Report {
    /// Records `key = value` in `section`, shown with `unit` in the table.
    pub fn add(&mut self, section: &str, key: &str, value: f64, unit: &str) {
        let entry = self.sections.entry(section.to_owned()).or_insert_with(|| json!({}));
        let rounded = if value.is_finite() { json!((value * 1000.0).round() / 1000.0) } else { Value::Null };
        entry[key] = rounded;
        self.rows.push((section.to_owned(), key.to_owned(), format_value(value), unit.to_owned()));
        println!("  {section:<12} {key:<38} {:>12} {unit}", format_value(value));
    }

    /// A fact that is not a number (which measure was used, what was skipped).
    pub fn note(&mut self, section: &str, key: &str, text: &str) {
        let entry = self.sections.entry(section.to_owned()).or_insert_with(|| json!({}));
        entry[key] = json!(text);
        self.notes.push(format!("{section}.{key}: {text}"));
        println!("  {section:<12} {key:<38} {text}");
    }

    pub fn get(&self, section: &str, key: &str) -> Option<f64> {
        self.sections.get(section)?.get(key)?.as_f64()
    }

    pub fn table(&self) -> String {
        let mut out = String::from("| scenario | figure | value | unit |\n|---|---|---:|---|\n");
        for (section, key, value, unit) in &self.rows {
            out.push_str(&format!("| {section} | {key} | {value} | {unit} |\n"));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(&format!("- {note}\n"));
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path, top: Map<String, Value>) -> Result<()> {
        let mut doc = top;
        for (k, v) in &self.sections {
            doc.insert(k.clone(), v.clone());
        }
        if let Some(ratio) = self.get("throughput", "throughput_ratio_to_relay") {
            doc.insert("throughput_ratio_to_relay".into(), json!(ratio));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(&Value::Object(doc))?)?;
        Ok(())
    }
}

fn format_value(value: f64) -> String {
    if !value.is_finite() {
        "n/a".to_owned()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}
