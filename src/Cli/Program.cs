// Replaced by the System.CommandLine front end (issue 2).
return 0;
