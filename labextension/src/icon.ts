/**
 * The tl_widgets icon: a small network with a highlighted (trainable) head.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="4" width="4" height="16" rx="1"/>
    <rect x="8" y="6" width="4" height="12" rx="1"/>
    <rect x="14" y="8" width="3" height="8" rx="1"/>
  </g>
  <g class="jp-icon-brand0" fill="#F57C00">
    <rect x="19" y="10" width="3" height="4" rx="1"/>
  </g>
</svg>`;

export const tlIcon = new LabIcon({ name: 'tl-widgets:icon', svgstr: SVG });
