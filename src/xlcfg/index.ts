// The xl.cfg(5) parser and formatter. By origin:
//   syntax.ts       libxlutil's lexer and parser (libxlu_cfg_l.l, libxlu_cfg_y.y, libxlu_cfg.c)
//   libxlutil.ts    libxlutil's getters (libxlu_cfg.c) and its spec parsers, called natively
//   c-helpers.ts    the C library and libxl utility functions xl's code calls
//   xl-helpers.ts   xl_parse.c's helpers (parse_range, parse_ulong, MATCH_OPTION, …)
//   parse-config.ts the port of xl_parse.c's parse_config_data(), and parseXlConfig
//   format.ts       libxl_domain_config → xl.cfg text
export { parseXlConfig, XL_KEYS, XL_VERSIONS, xlKeys, xlVersionOf } from './parse-config';
export type { ParsedXlConfig, XlConfigOptions, XlGlobals, XlVersion } from './parse-config';
export { formatXlConfig, quoteXlString } from './format';
export type { FormatXlConfigOptions } from './format';
