//! The OpenCC converters, each built once per process and only when first needed (building
//! one costs up to a few milliseconds: the Simplified→Traditional ones load a large phrase
//! table).

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

/// The conversions zhsearch uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Traditional → Simplified (the normalisation of indexed text and queries).
    T2s,
    /// Simplified → Traditional (`cite --to traditional`).
    S2t,
    /// Mainland → Taiwan, with Taiwan phrases.
    S2twp,
    /// Taiwan → mainland, with mainland phrases.
    Tw2sp,
    /// Mainland → Hong Kong.
    S2hk,
    /// Hong Kong → mainland.
    Hk2s,
}

impl Conversion {
    fn config(self) -> BuiltinConfig {
        match self {
            Conversion::T2s => BuiltinConfig::T2s,
            Conversion::S2t => BuiltinConfig::S2t,
            Conversion::S2twp => BuiltinConfig::S2twp,
            Conversion::Tw2sp => BuiltinConfig::Tw2sp,
            Conversion::S2hk => BuiltinConfig::S2hk,
            Conversion::Hk2s => BuiltinConfig::Hk2s,
        }
    }
}

/// The converter for `conversion`; `None` if its built-in configuration fails to load (it is
/// compiled in, so that would be a bug of ferrous-opencc: callers then leave text as it is).
pub fn converter(conversion: Conversion) -> Option<&'static OpenCC> {
    static CELLS: [OnceLock<Option<OpenCC>>; 6] = [const { OnceLock::new() }; 6];
    CELLS[conversion as usize]
        .get_or_init(|| OpenCC::from_config(conversion.config()).ok())
        .as_ref()
}

/// `s` converted, or as it is when the converter cannot be built.
pub fn convert(conversion: Conversion, s: &str) -> String {
    match converter(conversion) {
        Some(cc) => cc.convert(s),
        None => s.to_string(),
    }
}
