// The vendored libraries are classic browser builds loaded by index.html before this module
// graph runs; each defines one global. This module is the only place that reads them.
export const Vue = window.Vue;
export const VueFlowCore = window.VueFlowCore;
export const dagre = window.dagre;
export const Chart = window.Chart;
export const { h, ref, reactive, computed, watch, onMounted, onBeforeUnmount, nextTick,
  defineComponent, markRaw, shallowRef, toRaw } = Vue;
