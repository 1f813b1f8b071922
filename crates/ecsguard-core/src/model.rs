//! The source-independent model every input is turned into: task definitions,
//! their containers, and the containers' environment variables.

use crate::secret::SecretValue;

/// Where something was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Location {
    /// A position in a file. `line` and `column` are 1-based; `line` is the line
    /// holding the variable's name.
    File {
        file: String,
        line: u32,
        column: u32,
    },
    /// A registered task definition in a live account.
    Live {
        arn: String,
        account: String,
        region: String,
    },
}

/// One task definition, from any source.
#[derive(Debug, Clone, Default)]
pub struct TaskDefinition {
    /// The family, or the closest thing the source has (a logical id, a resource address).
    pub family: Option<String>,
    pub revision: Option<u32>,
    pub containers: Vec<Container>,
    /// The file the task definition was recognised in (IaC sources only).
    pub file: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Container {
    pub name: Option<String>,
    pub environment: Vec<EnvVar>,
}

#[derive(Debug, Clone)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
    /// Where the variable's name is written.
    pub location: Location,
    /// Where its value is written, when that is elsewhere: a `.tfvars` file,
    /// a variable's default, a local, a template's variable map. Boxed:
    /// most variables have none.
    pub value_location: Option<Box<Location>>,
    /// Byte spans of the `environment` entry, its list and its container,
    /// in the document `origin` names; `None` when the source has none.
    pub spans: Option<EntrySpans>,
    /// Where the value comes from, and so how a fix can reach it.
    pub origin: Origin,
}

/// A byte range in a file (or, for [`Origin::Embedded`], in the decoded
/// text of the host string). File fixes edit through these, never lines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// Shared by every span of one file: cloning it costs a count, not a copy.
    pub file: std::sync::Arc<str>,
    pub start: u32,
    pub end: u32,
}

/// The spans a rewrite of one variable needs, all in one document: kept
/// compact (one shared file name, three byte ranges), since a scan holds
/// every variable of a Terraform folder at once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntrySpans {
    pub file: std::sync::Arc<str>,
    /// The `{name, value}` entry.
    pub entry: (u32, u32),
    /// The `environment` list holding it.
    pub list: (u32, u32),
    /// The container definition holding the list.
    pub container: (u32, u32),
}

impl EntrySpans {
    fn span(&self, (start, end): (u32, u32)) -> Span {
        Span {
            file: self.file.clone(),
            start,
            end,
        }
    }

    pub fn entry(&self) -> Span {
        self.span(self.entry)
    }

    pub fn list(&self) -> Span {
        self.span(self.list)
    }

    pub fn container(&self) -> Span {
        self.span(self.container)
    }
}

/// Where a value comes from (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Origin {
    /// Written in place, in the entry: edit the entry.
    #[default]
    InPlace,
    /// Inside a JSON string (CloudFormation `ContainerDefinitions: '[…]'`,
    /// Terraform's escaped string): the entry spans are offsets in the
    /// string's decoded text; a fix re-encodes the host string.
    Embedded { host: Span },
    /// Computed (locals, `for`, `merge`, module inputs, template variables,
    /// `.tfvars`, defaults): `literal` is where the value is written, when
    /// it is written at all.
    Computed { literal: Option<Span> },
    /// Generated (plan JSON, `cdk.out`): fix the source that generates it.
    Generated,
    /// A registered task definition in a live account.
    Live,
}

impl Origin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::InPlace => "in-place",
            Origin::Embedded { .. } => "embedded",
            Origin::Computed { .. } => "computed",
            Origin::Generated => "generated",
            Origin::Live => "live",
        }
    }
}

/// What an environment variable is set to.
#[derive(Debug, Clone)]
pub enum EnvValue {
    /// A string known in full.
    Literal(SecretValue),
    /// A string with parts that are only known at deploy time (`${…}`); the
    /// known parts are kept and the unknown parts stay as placeholders.
    Template(SecretValue),
    /// A symbolic expression (`!Ref X`, `var.x`, …), never guessed.
    Reference(Reference),
}

/// A symbolic reference. `expression` names what is referred to and is safe to
/// show: sources build it from names only, never from literal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub expression: String,
    pub target: ReferenceTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceTarget {
    /// Refers to a whole secret (a Secrets Manager secret string, a generated
    /// password, an IAM access key's secret): a secret whatever the variable
    /// is called. The string says why.
    Secret(String),
    /// Refers to an input only *marked* secret (a `sensitive` variable, a
    /// `NoEcho` parameter, an SSM parameter value, a non-secret key of a
    /// secret's JSON): teams mark connection settings so just to hide them
    /// from plan output, so this raises confidence in a secret-looking name
    /// but is no finding by itself. The string says why.
    Sensitive(String),
    /// Refers to an identifier of something else (an ARN, a name, an id): not a secret itself.
    Identifier,
    /// Anything else: an input whose sensitivity is unknown, a resource attribute, a function.
    Unknown,
}

impl Reference {
    pub fn new(expression: impl Into<String>, target: ReferenceTarget) -> Self {
        Self {
            expression: expression.into(),
            target,
        }
    }
}
