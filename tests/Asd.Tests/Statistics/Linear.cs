namespace Asd.Tests.Statistics;

/// <summary>Small dense linear algebra for the closed-form checks (row-major d x d).</summary>
public static class Linear
{
    /// <summary>C = A B.</summary>
    public static double[] Multiply(double[] a, double[] b, int d)
    {
        var c = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            for (int k = 0; k < d; k++)
            {
                double aik = a[(i * d) + k];
                for (int j = 0; j < d; j++)
                {
                    c[(i * d) + j] += aik * b[(k * d) + j];
                }
            }
        }

        return c;
    }

    /// <summary>A transposed.</summary>
    public static double[] Transpose(double[] a, int d)
    {
        var t = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                t[(j * d) + i] = a[(i * d) + j];
            }
        }

        return t;
    }

    /// <summary>y = A x.</summary>
    public static double[] Apply(double[] a, double[] x, int d)
    {
        var y = new double[d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                y[i] += a[(i * d) + j] * x[j];
            }
        }

        return y;
    }

    /// <summary>Lower-triangular L with L L^T = S; throws if S is not positive definite.</summary>
    public static double[] Cholesky(double[] s, int d)
    {
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = s[(i * d) + j];
                for (int k = 0; k < j; k++)
                {
                    sum -= l[(i * d) + k] * l[(j * d) + k];
                }

                if (i == j)
                {
                    if (!(sum > 0))
                    {
                        throw new InvalidOperationException("Matrix is not positive definite.");
                    }

                    l[(i * d) + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[(i * d) + j] = sum / l[(j * d) + j];
                }
            }
        }

        return l;
    }

    /// <summary>Solves L w = v for lower-triangular L.</summary>
    public static double[] SolveLower(double[] l, double[] v, int d)
    {
        var w = new double[d];
        for (int i = 0; i < d; i++)
        {
            double sum = v[i];
            for (int k = 0; k < i; k++)
            {
                sum -= l[(i * d) + k] * w[k];
            }

            w[i] = sum / l[(i * d) + i];
        }

        return w;
    }
}
