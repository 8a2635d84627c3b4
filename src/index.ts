// xenlight: Xen's toolstack library (libxl) for Node.js.
export { Host, XL_INFO_NAMES } from './core/host';
export type {
  CloseOptions,
  CreateOptions,
  HostMonitorOptions,
  DeprecatedHostInfoNames,
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
export type {
  ConsoleOptions,
  CoreDumpOptions,
  DestroyOptions,
  SaveOptions,
  ShutdownOptions,
  WaitForOptions,
} from './core/domain';
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
export { parseXlConfig, XL_VERSIONS, xlKeys, xlVersionOf, formatXlConfig, quoteXlString } from './xlcfg';
export type { FormatXlConfigOptions, ParsedXlConfig, XlConfigOptions, XlGlobals, XlVersion } from './xlcfg';
export { Disks, Nics, PciDevices, UsbDevices, HostPci, HostUsb, formatBdf } from './devices/devices';
export type {
  DetachOptions,
  DeviceOptions,
  DiskStatus,
  EjectsOptions,
  NicStatus,
  PciDeviceStatus,
  RemoveAssignableOptions,
  UsbController,
  HostUsbDevice,
  Kind as DeviceKind,
} from './devices/devices';
export { Cmt, DmesgReader, Tmem } from './monitor/hostdiag';
export type {
  Claims,
  CmtReport,
  CmtSocketValue,
  CmtType,
  DmesgOptions,
  DmesgReaderOptions,
  DomainClaim,
  TmemListOptions,
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

// ---- deprecated in 1.0, removed in the next minor version (see CHANGELOG's migration guide)
import type { CreateOptions as CreateOptionsType } from './core/host';
import { hostUsbDevices as hostUsbDevices_, parseDeviceSpec as parseDeviceSpec_ } from './devices/devices';
import { XL_KEYS as XL_KEYS_ } from './xlcfg';
import type { HostUsbDevice as HostUsbDeviceType, Kind as DeviceKindType } from './devices/devices';
import type { XlVersion as XlVersionType } from './xlcfg';
/** @deprecated The same type as `CreateOptions`; use that name. */
export type CreateDomainOptions = CreateOptionsType;
/** @deprecated Use `xlKeys()`, which gives the keys of a given xl version (this is 4.17's). */
export const XL_KEYS: ReadonlySet<string> = XL_KEYS_;
/** @deprecated An internal of the device sets (`attach()` takes the same spec strings). */
export function parseDeviceSpec<T>(kind: DeviceKindType, spec: string, op: string, xen?: XlVersionType): T {
  return parseDeviceSpec_<T>(kind, spec, op, xen);
}
/** @deprecated An internal of `host.usb`; use `host.usb.list()`. */
export function hostUsbDevices(sysfs?: string): HostUsbDeviceType[] {
  return hostUsbDevices_(sysfs);
}
