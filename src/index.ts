// xenlight: Xen's toolstack library (libxl) for Node.js.
export { Host } from './host';
export type { CreateOptions, CreateOptions as CreateDomainOptions, HostInfo, HostOptions, LogLevel, MonitorOptions, RestoreOptions } from './host';
export type { LifecycleEvent, LifecycleListener } from './lifecycle';
export type { MigrateOptions, ReceiveOptions } from './migrate';
export type { Progress, ProgressListener } from './streams';
export { Domain, stateString, memoryMiB } from './domain';
export type { DomainInfo } from './domain';
export { XenError } from './errors';
export type { XenErrorCode, XenErrorProps } from './errors';
export type { DomainEvent, EventsOptions } from './events';
export type * as libxl from './types/libxl';
export { CpuPools } from './sched';
export type {
  CpupoolInfo, CpuTopologyEntry, CreditSchedParams, DomainSchedulerParams, NumaNode, OtherSchedParams, RtdsSchedParams,
  RtdsVcpuParams, SetSchedParams, Topology, VcpuInfo,
} from './sched';
export { parseCpuList, formatCpuList } from './cpulist';
export type { CpuSpec, CpuLayout } from './cpulist';
export { parseXlConfig, XL_KEYS } from './xlcfg';
export { formatXlConfig, quoteXlString } from './xlcfg-format';
export type { ParsedXlConfig, XlConfigOptions, XlGlobals } from './xlcfg';
export { Disks, Nics, PciDevices, UsbDevices, HostPci, HostUsb, hostUsbDevices, parseDeviceSpec, formatBdf } from './devices';
export type { DeviceOptions, DiskStatus, NicStatus, UsbController, HostUsbDevice, Kind as DeviceKind } from './devices';
export { Cmt, DmesgReader, Tmem } from './hostdiag';
export type { Claims, CmtReport, CmtSocketValue, CmtType, DmesgOptions, DmesgReaderOptions, DomainClaim, TmemSetting } from './hostdiag';
export { Stats } from './stats';
export type {
  DomainRates, DomainStats, HostRates, NetworkStats, SampleOptions, StatsSample, VbdStats, VcpuStats, WatchOptions,
} from './stats';
export { GdbServer } from './gdbstub';
export type { GdbServerOptions } from './gdbstub';
export type { MemoryOptions, RegisterName, VcpuContext, VcpuRegisters } from './debug';
