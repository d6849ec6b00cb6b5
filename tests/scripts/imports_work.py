# Workload of probes/*/imports: three imports with known costs.
#   scripts_slowmod: sleeps 300 ms at import (the slowest);
#   scripts_outer: sleeps 50 ms and imports scripts_inner (100 ms), so about
#   150 ms cumulative with scripts_inner nested one level under it;
#   scripts_fastmod: no work.
import scripts_outer
import scripts_fastmod
import scripts_slowmod
