"""Static files in production: hashed names (cached for ever), compressed by WhiteNoise.

Pages load ES modules that import each other by relative path (`import { $ } from
"./dom.js";`). Django rewrites those imports to the hashed names too, so a module a page
loads and the same module imported by another are one URL, hence one copy with one state.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
