export const DEFAULT_CURRENCY  =   "EUR" ;
export function isSupported( code : string ) : boolean { return [ "EUR", "GBP" ].includes( code ) }
