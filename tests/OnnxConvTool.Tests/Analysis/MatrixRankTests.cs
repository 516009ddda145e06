using OnnxConvTool.Analysis;

namespace OnnxConvTool.Tests.Analysis;

public sealed class MatrixRankTests
{
    [Theory]
    [InlineData(7, 7, 3)]
    [InlineData(12, 5, 5)]
    [InlineData(5, 12, 2)]
    [InlineData(40, 30, 29)]
    [InlineData(1, 9, 1)]
    [InlineData(9, 1, 1)]
    public void ProductOfThinFactorsHasTheirInnerDimensionAsRank(int rows, int columns, int inner)
    {
        var random = new Random(rows * 100 + columns);
        var left = RandomMatrix(random, rows, inner);
        var right = RandomMatrix(random, inner, columns);
        var product = new double[rows * columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
                for (int k = 0; k < inner; k++)
                    product[i * columns + j] += left[i * inner + k] * right[k * columns + j];

        var rank = MatrixRank.Compute(product, rows, columns);
        Assert.Equal(inner, rank.Rank);
        Assert.Equal(Math.Min(rows, columns), rank.FullRank);
        Assert.Equal(inner < Math.Min(rows, columns), rank.IsDeficient);
    }

    [Fact]
    public void LargestSingularValueOfADiagonalMatrixIsItsLargestMagnitude()
    {
        double[] diagonal = [0.5, -7.25, 3, 0, 1e-3];
        var matrix = new double[25];
        for (int i = 0; i < 5; i++) matrix[i * 5 + i] = diagonal[i];
        var rank = MatrixRank.Compute(matrix, 5, 5);

        Assert.Equal(7.25, rank.LargestSingularValue, 12);
        Assert.Equal(4, rank.Rank);
        Assert.Equal(5 * MatrixRank.Float32Epsilon * 7.25, rank.Tolerance, 15);
    }

    [Fact]
    public void LargestSingularValueMatchesPowerIteration()
    {
        var random = new Random(5);
        const int rows = 30, columns = 20;
        var a = RandomMatrix(random, rows, columns);
        var x = Enumerable.Repeat(1.0, columns).ToArray();
        double sigma = 0;
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            var ax = new double[rows];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < columns; j++) ax[i] += a[i * columns + j] * x[j];
            var atax = new double[columns];
            for (int j = 0; j < columns; j++)
                for (int i = 0; i < rows; i++) atax[j] += a[i * columns + j] * ax[i];
            double norm = Math.Sqrt(atax.Sum(v => v * v));
            sigma = Math.Sqrt(norm / Math.Sqrt(x.Sum(v => v * v)));
            x = atax.Select(v => v / norm).ToArray();
        }
        Assert.Equal(sigma, MatrixRank.Compute(a, rows, columns).LargestSingularValue, 9);
    }

    [Fact]
    public void ToleranceFollowsTheElementTypeEpsilon()
    {
        // Q diag(1, 1e-3, 1e-9) Qᵀ with Q a Householder reflection: singular values 1, 1e-3 and 1e-9.
        double[] v = [1, 2, -1];
        double vv = v.Sum(e => e * e);
        double[] sigma = [1, 1e-3, 1e-9];
        var matrix = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++)
                {
                    double qik = (i == k ? 1 : 0) - 2 * v[i] * v[k] / vv;
                    double qjk = (j == k ? 1 : 0) - 2 * v[j] * v[k] / vv;
                    matrix[i * 3 + j] += qik * sigma[k] * qjk;
                }

        Assert.Equal(2, MatrixRank.Compute(matrix, 3, 3, MatrixRank.Float32Epsilon).Rank);
        Assert.Equal(3, MatrixRank.Compute(matrix, 3, 3, Math.Pow(2, -52)).Rank);
    }

    [Fact]
    public void ZeroMatrixHasRankZero()
    {
        var rank = MatrixRank.Compute(new double[12], 3, 4);
        Assert.Equal(0, rank.Rank);
        Assert.Equal(0, rank.LargestSingularValue);
    }

    [Fact]
    public void BlockDiagonalRankIsTheRankOfTheAssembledMatrix()
    {
        var random = new Random(8);
        const int blocks = 3, blockRows = 4, blockColumns = 6;
        var data = RandomMatrix(random, blocks * blockRows, blockColumns);
        // Block 1 gets rank 1 (every row a multiple of its first), block 2 is scaled far down.
        for (int r = 1; r < blockRows; r++)
            for (int c = 0; c < blockColumns; c++) data[(blockRows + r) * blockColumns + c] = (r + 1) * data[blockRows * blockColumns + c];
        for (int i = 2 * blockRows * blockColumns; i < data.Length; i++) data[i] *= 1e-9;
        var dense = new double[blocks * blockRows * blocks * blockColumns];
        for (int b = 0; b < blocks; b++)
            for (int r = 0; r < blockRows; r++)
                for (int c = 0; c < blockColumns; c++)
                    dense[(b * blockRows + r) * blocks * blockColumns + b * blockColumns + c] = data[(b * blockRows + r) * blockColumns + c];

        var blockRank = MatrixRank.ComputeBlockDiagonal(data, blockRows, blockColumns, blocks);
        var denseRank = MatrixRank.Compute(dense, blocks * blockRows, blocks * blockColumns);
        Assert.Equal(denseRank.Rank, blockRank.Rank);
        Assert.Equal(denseRank.LargestSingularValue, blockRank.LargestSingularValue, 12);
        Assert.Equal(4 + 1, blockRank.Rank);
        Assert.Equal(12, blockRank.FullRank);
    }

    [Theory]
    [InlineData(30, 30, 30, 1.0)]
    [InlineData(48, 12, 7, 1.0)]
    [InlineData(12, 48, 12, 1e-3)]
    [InlineData(64, 64, 50, 1e5)]
    public void GramAndGolubKahanMethodsAgree(int rows, int columns, int inner, double scale)
    {
        var random = new Random(rows + 7 * columns + inner);
        var left = RandomMatrix(random, rows, inner);
        var right = RandomMatrix(random, inner, columns);
        var product = new double[rows * columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
                for (int k = 0; k < inner; k++)
                    product[i * columns + j] += scale * left[i * inner + k] * right[k * columns + j];

        var gram = MatrixRank.ComputeBlockDiagonal(product, rows, columns, 1, MatrixRank.Float32Epsilon, SpectrumMethod.Gram);
        var golubKahan = MatrixRank.ComputeBlockDiagonal(product, rows, columns, 1, MatrixRank.Float32Epsilon, SpectrumMethod.GolubKahan);
        Assert.Equal(inner, gram.Rank);
        Assert.Equal(golubKahan.Rank, gram.Rank);
        Assert.Equal(golubKahan.LargestSingularValue, gram.LargestSingularValue, golubKahan.LargestSingularValue * 1e-12);
    }

    [Fact]
    public void WrongDataLengthIsRefused() =>
        Assert.Throws<ArgumentException>(() => MatrixRank.Compute(new double[5], 2, 3));

    private static double[] RandomMatrix(Random random, int rows, int columns) =>
        Enumerable.Range(0, rows * columns).Select(_ => random.NextDouble() * 2 - 1).ToArray();
}
