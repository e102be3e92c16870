// The HTML pages: typed functions over an escaping template tag (template.ts), one module per page.
export { ASSETS, assetUrl, type StaticAsset } from './assets.js';
export { groupFingerprint, formatDate, signatureLabel } from './components.js';
export { renderErrorPage } from './errorPage.js';
export { renderFrontPage } from './frontPage.js';
export { renderKeyDetailPage, type KeyPageData } from './keyPage.js';
export { DEFAULT_SITE, type SiteInfo } from './layout.js';
export { renderListingPage, type ListingData } from './listingPage.js';
export { renderIndexPage, renderKeyPage, type IndexPageOptions, type KeySignatures } from './searchPages.js';
export { renderStatsPage, type StatsPageData } from './statsPage.js';
export { escapeHtml, html, raw, Html } from './template.js';
export { renderUploadPage, type UploadOutcome } from './uploadPage.js';
