// xenlight: Xen's toolstack library (libxl) for Node.js.
export { Host, XL_INFO_NAMES } from './core/host';
export type {
  CreateOptions,
  DeprecatedHostInfoNames,
  CreateOptions as CreateDomainOptions,
  HostInfo,
  HostOptions,
  LogLevel,
  MonitorOptions,
  RestoreOptions,
} from './core/host';
export type { LifecycleEvent, LifecycleListener } from './core/lifecycle';
export type { MigrateOptions, ReceiveOptions } from './transfer/migrate';
export type { Progress, ProgressListener, ProgressPhase } from './transfer/streams';
export { Domain } from './core/domain';
export type { CoreDumpOptions, DestroyOptions, SaveOptions } from './core/domain';
export { stateString, memoryMiB, DEPRECATED_DOMAIN_INFO_NAMES } from './core/domain-info';
export type { DomainInfo, DomainInfoFields, DomainTarget, DeprecatedDomainInfoNames, StateFlags } from './core/domain-info';
export { XEN_ERROR_KINDS, XenError, XenRangeError, XenTypeError } from './core/errors';
export { OPERATION_CHANNEL, operationChannel } from './core/tracing';
export type { OperationContext } from './core/tracing';
export type { XenArgErrorProps, XenErrorCode, XenErrorKind, XenErrorProps } from './core/errors';
export type { DomainEvent, EventsOptions } from './core/events';
export { DomainInformer } from './core/informer';
export type { DomainChange, DomainInformerEvent, DomainInformerEvents, DomainInformerOptions } from './core/informer';
export type * as libxl from './generated/libxl-types';
export { CpuPools } from './sched/sched';
export type {
  CpupoolInfo,
  CpuTopologyEntry,
  CreditSchedParams,
  DomainSchedulerParams,
  NumaNode,
  OtherSchedParams,
  PoolSchedParams,
  RtdsSchedParams,
  RtdsVcpuParams,
  SetPoolSchedParams,
  SetSchedParams,
  Topology,
  VcpuInfo,
} from './sched/sched';
export { parseCpuList, formatCpuList } from './sched/cpulist';
export type { CpuSpec, CpuLayout } from './sched/cpulist';
export { parseXlConfig, XL_KEYS, XL_VERSIONS, xlKeys, xlVersionOf, formatXlConfig, quoteXlString } from './xlcfg';
export type { FormatXlConfigOptions, ParsedXlConfig, XlConfigOptions, XlGlobals, XlVersion } from './xlcfg';
export {
  Disks,
  Nics,
  PciDevices,
  UsbDevices,
  HostPci,
  HostUsb,
  hostUsbDevices,
  parseDeviceSpec,
  formatBdf,
} from './devices/devices';
export type { DeviceOptions, DiskStatus, NicStatus, UsbController, HostUsbDevice, Kind as DeviceKind } from './devices/devices';
export { Cmt, DmesgReader, Tmem } from './monitor/hostdiag';
export type {
  Claims,
  CmtReport,
  CmtSocketValue,
  CmtType,
  DmesgOptions,
  DmesgReaderOptions,
  DomainClaim,
  TmemSetting,
} from './monitor/hostdiag';
export { Stats, xentopState } from './monitor/stats';
export type {
  DomainRates,
  DomainStats,
  HostRates,
  NetworkStats,
  SampleOptions,
  StatsSample,
  VbdStats,
  VcpuStats,
  WatchOptions,
} from './monitor/stats';
export { GdbServer } from './debug/gdbstub';
export type { GdbServerOptions } from './debug/gdbstub';
export type { MemoryOptions, RegisterName, VcpuContext, VcpuRegisters } from './debug/debug';
