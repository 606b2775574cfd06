% Colour reference values: VIFB's metrics exactly as compute_metrics.m calls them (metricsX(imgVI, imgIR,
% fused) on imread output, here RGB PNGs), and Tang's analysis_Reference after Evaluation_for_Single_Image.m's
% rgb2gray of every 3-channel input. Appends "name<TAB>kit<TAB>metric<TAB>value" lines to outfile; a VIFB
% metric that raises an error (as compute_metrics.m's try/catch skips it) is written as NaN.
function run_colour(indir, outfile)
  pkg load image;
  here = pwd;
  addpath(fullfile(here, 'xingchenzhang+VIFB', 'metrics'));
  addpath(fullfile(here, 'Linfeng-Tang+Evaluation-for-Image-Fusion', 'Evaluation'));
  files = dir(fullfile(indir, '*_fused.png'));
  fid = fopen(outfile, 'a');
  vifb = {'Avg_gradient', 'Cross_entropy', 'Edge_intensity', 'Entropy', 'Mutinf', 'Psnr', 'Qabf', 'Qcb', ...
          'Qcv', 'Rmse', 'Spatial_frequency', 'Ssim', 'Variance'};
  for k = 1:numel(files)
    name = strrep(files(k).name, '_fused.png', '');
    f = imread(fullfile(indir, [name '_fused.png']));
    ir = imread(fullfile(indir, [name '_ir.png']));
    vi = imread(fullfile(indir, [name '_vis.png']));
    for m = 1:numel(vifb)
      try  % as compute_metrics.m: a metric that fails is skipped (recorded here as NaN)
        res = feval(['metrics' vifb{m}], vi, ir, f);
      catch
        res = NaN;
      end
      fprintf(fid, '%s\tvifb\t%s\t%.17g\n', name, vifb{m}, res);
    end
    if size(ir, 3) > 2, ir = rgb2gray(ir); end
    if size(vi, 3) > 2, vi = rgb2gray(vi); end
    if size(f, 3) > 2, f = rgb2gray(f); end
    [EN, SF, SD, PSNR, MSE, MI, VIF, AG, CC, SCD, Qabf] = analysis_Reference(f, ir, vi, 1);
    tang = {'EN', EN; 'SF', SF; 'SD', SD; 'PSNR', PSNR; 'MSE', MSE; 'MI', MI; 'VIF', VIF; 'AG', AG; ...
            'CC', CC; 'SCD', SCD; 'Qabf', Qabf};
    for m = 1:size(tang, 1)
      fprintf(fid, '%s\ttang\t%s\t%.17g\n', name, tang{m, 1}, tang{m, 2});
    end
    fflush(fid);
    printf('%s done\n', name);
  end
  fclose(fid);
end
