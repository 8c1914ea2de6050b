/** The inspector page: the HTML shell, its stylesheet and its script, as the server sends them. */
import { CLIENT_CORE } from './client-core.js';
import { CLIENT_DETAILS } from './client-details.js';
import { CLIENT_SESSIONS } from './client-sessions.js';
import { CLIENT_VIEWS } from './client-views.js';

export { pageHtml } from './html.js';
export { PAGE_STYLE } from './style.js';

/** The page's script (served as `/inspector.js`): core, sessions, then the views, then the details and start. */
export const PAGE_SCRIPT = CLIENT_CORE + CLIENT_SESSIONS + CLIENT_VIEWS + CLIENT_DETAILS;
