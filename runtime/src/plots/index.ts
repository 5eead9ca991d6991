// Figure builders: pure functions from pre-binned (or raw, binned here) numbers to Vega-Lite specs.
// Browser-safe; render in Node with trainer/src/report/render.ts or in a page with vega-embed.

export { histogram1d, histogramTotal, type Histogram1D, type HistogramOptions } from './binning.ts';
export { coverageFigure, type CoverageOptions, type CoveragePoint } from './coverage.ts';
export { contourLines, levelCrossings, type ContourPoint } from './contours.ts';
export { lossCurve, rocCurve, type LossCurveOptions, type RocCurveInput, type RocCurveOptions } from './curves.ts';
export {
  distributionsByTheta,
  histogramComparison,
  type DistributionsByThetaOptions,
  type HistogramComparisonOptions,
  type HistogramNormalization,
  type HistogramSeries,
  type HistogramStyle,
  type ThetaGroup,
} from './histograms.ts';
export { brazilBand, type BrazilBandOptions } from './brazil.ts';
export { fittedComponents, type FittedComponent, type FittedComponentsOptions } from './fitted.ts';
export { deltaNllMap, profileCurve, type DeltaNllMapOptions, type Point2D, type ProfileCurveOptions } from './scans.ts';
export { ratioComparison, type RatioComparisonOptions, type RatioSeries } from './ratio.ts';
export { stackedHistogram, type StackedComponent, type StackedHistogramOptions } from './stacked.ts';
export { pValueCurves, type PValueCurvesOptions, type PValueSeries } from './significance.ts';
export { PALETTE, physicsConfig, type DataRow, type VegaLiteSpec } from './spec.ts';
