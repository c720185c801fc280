//! Bindings for the dataset engine: generate, convert, load, validate, write.

use super::errors::{detach, to_pyerr};
use nova_ft_data::cost::NOVA_MICRO;
use nova_ft_data::dataset::convert::{read_rows, RowSpec, SourceRow, DEFAULT_INTENT_INSTRUCTION};
use nova_ft_data::dataset::split::SplitSpec;
use nova_ft_data::dataset::validate::{
    self, validate_records, ModelRules, Task, ValidationOptions, ValidationReport,
};
use nova_ft_data::dataset::{to_jsonl, Dataset};
use nova_ft_data::error::NovaError;
use nova_ft_data::fsio::write_atomically;
use nova_ft_data::tokens;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

// Signatures spell defaults as literals so Python can show them; these keep them in step.
const _: () = assert!(validate::DEFAULT_MAX_ISSUES == 100);
const _: () = assert!(validate::DEFAULT_MAX_RECORD_TOKENS == 32_000);

/// Named splits of conversation records, held in Rust. Wrapped by `nova_ft.Dataset`.
#[pyclass(name = "DatasetCore", module = "nova_ft._nova_ft", frozen)]
pub struct PyDataset {
    inner: Arc<Dataset>,
}

impl PyDataset {
    fn new(dataset: Dataset) -> Self {
        PyDataset {
            inner: Arc::new(dataset),
        }
    }

    fn records_of(&self, split: &str) -> PyResult<&[nova_ft_data::dataset::record::Conversation]> {
        self.inner.split(split).ok_or_else(|| {
            let names: Vec<&str> = self.inner.splits.iter().map(|(n, _)| n.as_str()).collect();
            pyo3::exceptions::PyKeyError::new_err(format!(
                "no split {split:?}; this dataset has {names:?}"
            ))
        })
    }
}

#[pymethods]
impl PyDataset {
    /// Split names in order.
    fn split_names(&self) -> Vec<String> {
        self.inner.splits.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Number of records in a split.
    fn split_len(&self, split: &str) -> PyResult<usize> {
        Ok(self.records_of(split)?.len())
    }

    /// The label list of intent data, if known.
    #[getter]
    fn labels(&self) -> Option<Vec<String>> {
        self.inner.labels.clone()
    }

    /// A split's records as dicts in the `bedrock-conversation-2024` shape.
    fn records<'py>(&self, py: Python<'py>, split: &str) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, self.records_of(split)?)?)
    }

    /// A split as JSONL bytes, byte-identical to Python's `json.dumps` per line.
    fn jsonl<'py>(&self, py: Python<'py>, split: &str) -> PyResult<Bound<'py, PyBytes>> {
        let records = self.records_of(split)?;
        let bytes = py.detach(|| to_jsonl(records));
        Ok(PyBytes::new(py, &bytes))
    }

    /// Write every split to `dir/<split>.jsonl` atomically; returns the paths written.
    fn write_jsonl(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let inner = Arc::clone(&self.inner);
        let paths = detach(py, move || inner.write_jsonl(&dir))?;
        Ok(paths.into_iter().map(|p| p.display().to_string()).collect())
    }

    /// Write one split to `path` atomically.
    fn write_split(&self, py: Python<'_>, split: &str, path: PathBuf) -> PyResult<()> {
        let records = self.records_of(split)?;
        detach(py, || write_atomically(&path, &to_jsonl(records)))
    }

    /// Duplicates within splits and inputs shared between splits.
    fn overlap_report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        let report = py.detach(move || inner.overlap_report());
        Ok(pythonize::pythonize(py, &report)?)
    }

    /// Validate the given splits (default: all but `test`) as one job's data.
    #[pyo3(signature = (splits=None, task="sft", max_issues=100, epochs=2, model=""))]
    fn validate<'py>(
        &self,
        py: Python<'py>,
        splits: Option<Vec<String>>,
        task: &str,
        max_issues: usize,
        epochs: u32,
        model: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = validation_options(py, task, model, max_issues)?;
        let names = splits.unwrap_or_else(|| {
            self.split_names()
                .into_iter()
                .filter(|n| n != "test")
                .collect()
        });
        let mut selected = Vec::with_capacity(names.len());
        for name in &names {
            selected.push((name.as_str(), self.records_of(name)?));
        }
        let report = py.detach(|| validate_records(&selected, &options));
        report_to_py(py, &report, epochs)
    }
}

/// The tutorial's synthetic airline-intent data for a seed.
#[pyfunction]
#[pyo3(signature = (seed=7, train=800, valid=100, test=0, test_seed=None))]
pub fn synthetic_dataset(
    py: Python<'_>,
    seed: i64,
    train: usize,
    valid: usize,
    test: usize,
    test_seed: Option<i64>,
) -> PyDataset {
    PyDataset::new(py.detach(|| Dataset::synthetic(seed, train, valid, test, test_seed)))
}

fn row_spec(
    py: Python<'_>,
    kind: &str,
    fields: Option<&Bound<'_, PyDict>>,
    instruction: Option<String>,
    labels: Option<Vec<String>>,
) -> PyResult<RowSpec> {
    let field = |name: &str, default: &str| -> PyResult<String> {
        match fields.map(|f| f.get_item(name)).transpose()?.flatten() {
            Some(value) => value.extract(),
            None => Ok(default.to_string()),
        }
    };
    match kind {
        "intent" => Ok(RowSpec::Intent {
            text_field: field("text", "text")?,
            label_field: field("label", "label")?,
            instruction: instruction.unwrap_or_else(|| DEFAULT_INTENT_INSTRUCTION.to_string()),
            labels,
        }),
        "sql" => Ok(RowSpec::Sql {
            question_field: field("question", "question")?,
            context_field: field("context", "context")?,
            sql_field: field("sql", "sql")?,
        }),
        other => Err(to_pyerr(
            py,
            NovaError::invalid(format!("unknown kind {other:?}: use \"intent\" or \"sql\"")),
        )),
    }
}

/// Rows to convert: a `.jsonl`/`.csv` path, or a list of dicts.
#[derive(FromPyObject)]
pub enum RowsSource<'py> {
    Path(PathBuf),
    Rows(Bound<'py, PyList>),
}

fn rows_from_list(
    py: Python<'_>,
    rows: &Bound<'_, PyList>,
    source: &str,
) -> PyResult<Vec<SourceRow>> {
    let mut parsed = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let not_a_mapping = |detail: String| {
            to_pyerr(
                py,
                NovaError::invalid(format!(
                    "{source}: row {} is not a dict of fields{detail}",
                    i + 1
                )),
            )
        };
        let value: Value =
            pythonize::depythonize(&row).map_err(|e| not_a_mapping(format!(": {e}")))?;
        let Value::Object(fields) = value else {
            return Err(not_a_mapping(String::new()));
        };
        parsed.push(SourceRow {
            line: i + 1,
            fields,
        });
    }
    Ok(parsed)
}

/// Convert intent (`text`, `label`) or SQL (`question`, `context`, `sql`) rows into records
/// and split them (seeded; stratified by label for intent data).
#[pyfunction]
#[pyo3(signature = (source, kind, *, fields=None, instruction=None, labels=None, valid=0.0, test=0.0, seed=0, stratify=true, drop_leaks=false, name=None))]
#[allow(clippy::too_many_arguments)]
pub fn convert(
    py: Python<'_>,
    source: RowsSource<'_>,
    kind: &str,
    fields: Option<&Bound<'_, PyDict>>,
    instruction: Option<String>,
    labels: Option<Vec<String>>,
    valid: f64,
    test: f64,
    seed: i64,
    stratify: bool,
    drop_leaks: bool,
    name: Option<String>,
) -> PyResult<PyDataset> {
    let (rows, name) = match source {
        RowsSource::Path(path) => {
            let name = name.unwrap_or_else(|| path.display().to_string());
            (detach(py, || read_rows(&path))?, name)
        }
        RowsSource::Rows(list) => {
            let name = name.unwrap_or_else(|| "rows".to_string());
            (rows_from_list(py, &list, &name)?, name)
        }
    };
    let spec = row_spec(py, kind, fields, instruction, labels)?;
    let split = SplitSpec {
        valid,
        test,
        seed,
        stratify,
    };
    let dataset = detach(py, move || {
        Dataset::from_rows(&rows, &name, &spec, split, drop_leaks)
    })?;
    Ok(PyDataset::new(dataset))
}

/// Load conversation JSONL files as splits: `{"train": path, "valid": path, ...}`.
#[pyfunction]
#[pyo3(signature = (files, task="sft"))]
pub fn load_jsonl(
    py: Python<'_>,
    files: Vec<(String, PathBuf)>,
    task: &str,
) -> PyResult<PyDataset> {
    let task = Task::parse(task).map_err(|e| to_pyerr(py, e))?;
    let dataset = detach(py, move || Dataset::from_jsonl_files(&files, task))?;
    Ok(PyDataset::new(dataset))
}

/// Validation options from the names Python passes: the task (`sft`, `distillation`, `rft`)
/// and the base model whose rules apply.
fn validation_options(
    py: Python<'_>,
    task: &str,
    model: &str,
    max_issues: usize,
) -> PyResult<ValidationOptions> {
    Ok(ValidationOptions {
        task: Task::parse(task).map_err(|e| to_pyerr(py, e))?,
        model: ModelRules::parse(model).map_err(|e| to_pyerr(py, e))?,
        max_issues,
        ..Default::default()
    })
}

/// Validate JSONL files as one job's data; returns the report as a dict (never raises for
/// problems in the data: they are in the report).
#[pyfunction]
#[pyo3(signature = (paths, task="sft", max_issues=100, max_record_tokens=32_000, check_counts=true, epochs=2, model=""))]
#[allow(clippy::too_many_arguments)]
pub fn validate_files<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    task: &str,
    max_issues: usize,
    max_record_tokens: usize,
    check_counts: bool,
    epochs: u32,
    model: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let options = ValidationOptions {
        max_record_tokens,
        check_counts,
        ..validation_options(py, task, model, max_issues)?
    };
    let report = detach(py, || validate::validate_files(&paths, &options))?;
    report_to_py(py, &report, epochs)
}

/// The project's token estimate for a text (see `nova_ft.TOKEN_ESTIMATOR`).
#[pyfunction]
pub fn estimate_tokens(text: &str) -> usize {
    tokens::estimate_tokens(text)
}

/// Nova Micro's prices with their source and date.
#[pyfunction]
pub fn price_table(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(pythonize::pythonize(py, &NOVA_MICRO)?)
}

/// A validation report as a dict, with the cost estimate for `epochs` added.
fn report_to_py<'py>(
    py: Python<'py>,
    report: &ValidationReport,
    epochs: u32,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = pythonize::pythonize(py, report)?;
    dict.set_item(
        "cost",
        pythonize::pythonize(py, &report.stats.cost(epochs))?,
    )?;
    Ok(dict)
}
