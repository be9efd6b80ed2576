import Foundation

/// Writes a configuration's layer patterns into `adapter_config.json` in a form PEFT reads back
/// to exactly the layers LoRAKit adapted.
///
/// PEFT reads `target_modules` two ways (`check_target_module_exists` in
/// peft/tuners/tuners_utils.py): a **list** as exact-or-suffix names (`key in targets or
/// key.endswith("." + name)`), a **string** as one regex that must match the whole key
/// (`re.fullmatch`). It knows no globs and no `re:` prefix, so `["layer*.*.conv*"]` written as it
/// is makes `PeftModel.from_pretrained` fail with "No modules were targeted".
///
/// What is written:
///
/// - When every target and exclude is a plain name and PEFT's reading of them over the model's
///   module keys picks exactly the adapted layers, they are written as they are: that is PEFT's
///   own form, readable and portable to other models with the same layer names.
/// - Otherwise `target_modules` becomes **one regex string alternating the adapted layers' keys**,
///   escaped (`layer1\.0\.conv1|layer1\.0\.conv2|…`), and `exclude_modules` null (the excludes are
///   already applied). Chosen over the alternatives because it is
///   - exact: a full match of literal keys selects those layers and no other, whereas a list of
///     the resolved keys is read as suffixes too (`conv` would also adapt `block.conv`);
///   - free of regex dialects: only literal characters, `\.` and `|`, which Python's `re` and ICU
///     read alike, whereas translating a glob or passing a `re:` pattern on could differ between
///     the engines, and would also select modules LoRAKit skips because they have no LoRA form
///     (a `downsample` Sequential), which PEFT rejects ("Target module … is not supported");
///   - free of new fields: PEFT 0.21 drops unknown config fields with a warning, earlier versions
///     raise `TypeError`, and LoRAKit's reader refuses them. The original patterns stay in the
///     run's resolved recipe.
/// - `modules_to_save` has no regex form in PEFT (it matches `key.endswith(name)`); globs and
///   `re:` patterns there are written as the keys of the modules they match (outermost only).
///
/// `rank_pattern` and `alpha_pattern` are regexes in both PEFT and LoRAKit, matched the same way
/// (`(.*\.)?(pattern)$`), and are written as they are.
enum PEFTTargetModules {
    /// `config` with target, exclude and saved-module patterns PEFT reads as LoRAKit did.
    /// - Parameters:
    ///   - adapted: the keys of the layers that hold the adapter, in model order.
    ///   - moduleKeys: every module key of the model (not the adapters' own).
    static func peftReadable(_ config: LoRAConfig, adapted: [String], moduleKeys: [String]) -> LoRAConfig {
        var out = config
        let names = (config.targetModules + config.excludeModules).allSatisfy(TargetMatcher.isName)
        let peftPicks = moduleKeys.filter {
            listSelects(config.targetModules, excludes: config.excludeModules, modulesToSave: config.modulesToSave, key: $0)
        }
        if !(names && peftPicks == adapted) {
            out.targetModules = ["re:" + adapted.map(escaped).joined(separator: "|")]
            out.excludeModules = []
        }
        if !config.modulesToSave.allSatisfy(TargetMatcher.isName) {
            let saved = moduleKeys.filter { k in config.modulesToSave.contains { TargetMatcher.matches(pattern: $0, key: k) } }
            out.modulesToSave = saved.filter { k in !saved.contains { k.hasPrefix($0 + ".") } }
        }
        return out
    }

    /// Whether PEFT, given these lists, adapts the module at `key` (`check_target_module_exists`:
    /// excludes first, then modules inside a saved module, then exact-or-suffix targets).
    static func listSelects(_ targets: [String], excludes: [String], modulesToSave: [String], key: String) -> Bool {
        func named(_ list: [String]) -> Bool { list.contains { key == $0 || key.hasSuffix("." + $0) } }
        if named(excludes) { return false }
        let insideSaved = modulesToSave.contains { m in
            (try? NSRegularExpression(pattern: "^(?:^|.*\\.)\(m)(?:$|\\..*)"))
                .map { $0.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil } ?? false
        }
        return !insideSaved && named(targets)
    }

    /// `key` as a regex that matches exactly it, in Python's `re` and ICU alike: letters, digits
    /// and `_` as they are, anything else (the dots) behind a backslash.
    static func escaped(_ key: String) -> String {
        var out = ""
        for c in key {
            if !(c.isLetter || c.isNumber || c == "_") { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
