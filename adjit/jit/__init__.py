"""``adjit.jit``: ``torch.jit``'s API over eager execution (Note [jit runs eagerly])."""

from __future__ import annotations

from adjit.jit._isinstance import isinstance
from adjit.jit._markers import (
    Attribute,
    CompilationUnit,
    Error,
    Final,
    Future,
    annotate,
    enable_onednn_fusion,
    export,
    export_opnames,
    fork,
    ignore,
    interface,
    load,
    onednn_fusion_enabled,
    optimized_execution,
    save,
    script_if_tracing,
    set_fusion_strategy,
    strict_fusion,
    unused,
    wait,
)
from adjit.jit._script import (
    RecursiveScriptModule,
    ScriptFunction,
    ScriptModule,
    freeze,
    optimize_for_inference,
    script,
    script_method,
)
from adjit.jit._state import is_scripting, is_tracing
from adjit.jit._trace import (
    TopLevelTracedModule,
    TracedModule,
    TracerWarning,
    trace,
    trace_module,
)

__all__ = ["Attribute", "Error", "Final", "Future", "ScriptFunction", "ScriptModule", "annotate"]
__all__ += ["export", "fork", "freeze", "ignore", "interface", "is_scripting", "is_tracing"]
__all__ += ["load", "optimize_for_inference", "optimized_execution", "save", "script"]
__all__ += ["script_if_tracing", "trace", "trace_module", "unused", "wait"]
__all__ += ["RecursiveScriptModule", "TopLevelTracedModule", "TracedModule", "TracerWarning"]
__all__ += ["script_method", "CompilationUnit", "enable_onednn_fusion", "export_opnames"]
__all__ += ["isinstance", "onednn_fusion_enabled", "set_fusion_strategy", "strict_fusion"]
