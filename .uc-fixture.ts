import { startOAuthUpstream } from "./test/fixtures/oauth-upstream.ts";
const u = await startOAuthUpstream({ cimd: false, accessTtlSec: 3 });
console.log(u.mcpUrl);
setInterval(() => {}, 1 << 30);
