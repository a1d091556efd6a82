// Benchmarks are added by each feature: see bench/README.md.
return 0;
