"use strict";(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[931],{4021:function(e,t,n){n.r(t);var r=n(7437),s=n(2265);let a="http://10.20.0.7:11434",o="sk-proj-Zx9cVb8nM7aS6dF5gH4jK3lQ2wE1rT0yU9iO8pAsDfGhJkL";function i(){let[e,t]=(0,s.useState)("");return(0,r.jsx)("div",{"data-endpoint":a,"data-key":o})}}}]);
//# sourceMappingURL=page-3f9a1c2e.js.map
