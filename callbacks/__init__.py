"""Lightning callbacks: the sparse training algorithms (AIHT) and recovery metrics."""
