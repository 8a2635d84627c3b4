// Loaded first (mocha --require) by scripts/asan.sh: libasan is in this process already; the
// children it starts (xl, shells, libxl's hotplug scripts, the xenlight CLI) are not built for
// ASan and must not get it. Checks that the ASan build of the addon is the one loaded here.
import { loadNative } from '../../src/core/native';

delete process.env.LD_PRELOAD;
if (!process.env.XENLIGHT_PREBUILD) throw new Error('asan-env: XENLIGHT_PREBUILD is not set');
// This process loads (and keeps) the ASan build now. Child node processes and worker threads
// load the addon afresh: without libasan first in their library list an ASan build cannot load
// ("ASan runtime does not come first"), so they get the ordinary build.
loadNative();
delete process.env.XENLIGHT_PREBUILD;
