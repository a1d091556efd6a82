// hello-sandbox: a pause sandbox, one busybox container printing a line, teardown.
//   isola run scripts/examples/hello-sandbox.csx [-- RUNTIME]
// RUNTIME defaults to Isola:DefaultRuntime (runc). The sandbox and its container are removed however the run
// ends, including on Ctrl+C.
#load "lib/busybox.csx"

return await HelloAsync(Args.FirstOrDefault());
