"""Lightning callbacks, by method: AIHT (``callbacks.aiht``), IMP (``callbacks.imp``), and the
recovery metrics of planted runs (``callbacks.recovery``)."""
